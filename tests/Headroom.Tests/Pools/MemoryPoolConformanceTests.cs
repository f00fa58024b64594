using System.Buffers;

namespace Headroom.Tests.Pools;

/// <summary>
/// The same checks against <see cref="MemoryPool{T}.Shared"/> and Headroom's pool: what the BCL pool does is the
/// expected behaviour; each place where the budget must differ has a test of its own below.
/// </summary>
public sealed class MemoryPoolConformanceTests
{
    public static TheoryData<string> Pools() => ["shared", "headroom"];

    [Theory]
    [MemberData(nameof(Pools))]
    public void Rented_buffers_are_at_least_the_size_asked_for(string name)
    {
        using var subject = new Subject(name);
        foreach (int size in new[] { 0, 1, 63, 64, 100, 4095, 4096, 5000, 65_536, 100_000, 2_000_000 })
        {
            using IMemoryOwner<byte> owner = subject.Pool.Rent(size);
            Assert.True(owner.Memory.Length >= size, $"{name}: {owner.Memory.Length} < {size}");
            owner.Memory.Span.Fill(0xAA);
        }
    }

    [Theory]
    [MemberData(nameof(Pools))]
    public void Rent_of_minus_one_gives_the_default_size_and_below_that_is_refused(string name)
    {
        using var subject = new Subject(name);
        using (IMemoryOwner<byte> owner = subject.Pool.Rent(-1))
        {
            Assert.True(owner.Memory.Length >= 4096);
        }

        using (IMemoryOwner<byte> owner = subject.Pool.Rent())
        {
            Assert.True(owner.Memory.Length >= 4096);
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => subject.Pool.Rent(-2));
    }

    [Theory]
    [MemberData(nameof(Pools))]
    public void Disposing_twice_is_harmless_and_memory_after_dispose_throws(string name)
    {
        using var subject = new Subject(name);
        IMemoryOwner<byte> owner = subject.Pool.Rent(100);
        owner.Dispose();
        owner.Dispose();
        Assert.Throws<ObjectDisposedException>(() => owner.Memory);
    }

    [Theory]
    [MemberData(nameof(Pools))]
    public void MaxBufferSize_is_large_enough_that_a_pipe_never_looks_elsewhere(string name)
    {
        using var subject = new Subject(name);
        Assert.True(subject.Pool.MaxBufferSize >= Array.MaxLength);
    }

    [Fact]
    public void Difference_disposing_the_budgets_pool_ends_its_rents_but_not_its_buffers()
    {
        // The BCL's shared pool ignores Dispose; a budget's pool is a handle a component owns, so a rent after its
        // disposal is a bug the pool reports.
        MemoryPool<byte>.Shared.Dispose();
        MemoryPool<byte>.Shared.Rent(10).Dispose();

        using MemoryBudget budget = TestBudgets.Flat(1L << 20);
        MemoryPool<byte> pool = budget.AsMemoryPool();
        IMemoryOwner<byte> held = pool.Rent(10);
        pool.Dispose();
        pool.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pool.Rent(10));
        held.Memory.Span[0] = 1; // still valid
        held.Dispose();
        budget.TrimParked();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Difference_a_rent_beyond_the_budget_is_refused_rather_than_served_from_elsewhere()
    {
        using MemoryBudget budget = TestBudgets.Flat(64 * 1024);
        MemoryPool<byte> pool = budget.AsMemoryPool();
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(64 * 1024 + 1)); // can never fit
        using IMemoryOwner<byte> all = pool.Rent(64 * 1024);
        Assert.Throws<MemoryAllocationException>(() => pool.Rent(10)); // fails fast when full (MayFail)
        Assert.Equal(64 * 1024, budget.Used);
    }

    [Fact]
    public void Difference_the_budgets_pool_hands_out_whole_size_classes_charged_to_the_budget()
    {
        using MemoryBudget budget = TestBudgets.Flat(1L << 20);
        MemoryPool<byte> pool = budget.AsMemoryPool();
        using (IMemoryOwner<byte> owner = pool.Rent(100))
        {
            Assert.Equal(128, owner.Memory.Length);
            Assert.Equal(128, budget.Used);
        }

        using (IMemoryOwner<byte> owner = pool.Rent(0))
        {
            Assert.Equal(64, owner.Memory.Length); // the BCL's gives an empty buffer; the smallest class costs nothing more
        }

        budget.TrimParked();
        TestBudgets.AssertEmpty(budget);
    }

    private sealed class Subject : IDisposable
    {
        private readonly MemoryBudget? _budget;

        public Subject(string name)
        {
            if (name == "shared")
            {
                Pool = MemoryPool<byte>.Shared;
                return;
            }

            _budget = TestBudgets.Flat(16L << 20);
            Pool = _budget.AsMemoryPool();
        }

        public MemoryPool<byte> Pool { get; }

        public void Dispose()
        {
            if (_budget is not null)
            {
                _budget.TrimParked();
                TestBudgets.AssertEmpty(_budget);
                _budget.Dispose();
            }
        }
    }
}
