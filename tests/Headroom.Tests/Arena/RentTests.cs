using System.Buffers;
using Headroom.Arena;

namespace Headroom.Tests.Arena;

/// <summary>Buffers of real memory (semantics §9): accounting per size class and direct allocation, misuse, reservations.</summary>
public sealed class RentTests
{
    public static TheoryData<int, long, bool> Sizes()
    {
        var data = new TheoryData<int, long, bool>();
        for (int cls = 0; cls < SizeClasses.Count; cls++)
        {
            int footprint = SizeClasses.Footprint(cls);
            data.Add(footprint, footprint, true); // the class's own size
            data.Add(footprint / 2 + 1, footprint, true); // the smallest size that still needs it
        }

        data.Add(1, 64, true);
        data.Add(SizeClasses.MaxClassSize + 1, SizeClasses.MaxClassSize + SizeClasses.PageSize, false); // direct: whole pages
        data.Add(3 * 1024 * 1024 + 5, 3 * 1024 * 1024 + SizeClasses.PageSize, false);
        return data;
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Each_class_and_page_run_charges_its_footprint_parks_on_return_and_trims_to_zero(int size, long footprint, bool parks)
    {
        using MemoryBudget budget = TestBudgets.Flat(64L << 20);
        NativeArena arena = budget.Arena;

        IMemoryOwner<byte> owner = budget.Rent(size);
        Assert.Equal(size, owner.Memory.Length);
        owner.Memory.Span.Fill(7);
        Assert.Equal(footprint, budget.Used);
        Assert.Equal(footprint, arena.Chunks.Bytes);

        owner.Dispose();
        Assert.Equal(parks ? footprint : 0, budget.Parked);
        Assert.Equal(budget.Parked, budget.Used); // parked memory is resident: it stays charged to the root
        Assert.Equal(budget.Parked, budget.GetSnapshot().Parked);
        Assert.Equal(budget.Used, arena.Chunks.Bytes);

        using (IMemoryOwner<byte> again = budget.Rent(size))
        {
            Assert.Equal(footprint, budget.Used); // reused, not charged twice
            Assert.Equal(footprint, arena.Chunks.Bytes);
            Assert.Equal(0, budget.Parked);
        }

        Assert.Equal(parks ? footprint : 0, budget.TrimParked());
        Assert.Equal(0, budget.Parked);
        Assert.Equal(0, arena.Chunks.Bytes);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_child_rents_from_the_trees_arena_and_its_returns_park_at_the_root()
    {
        using MemoryBudget root = TestBudgets.Flat(1L << 20, "root");
        MemoryBudget child = root.CreateChild(TestBudgets.FlatChild("child", 64 * 1024));

        IMemoryOwner<byte> owner = child.Rent(4096);
        Assert.Equal(4096, child.Used);
        Assert.Equal(4096, root.Used);

        owner.Dispose();
        Assert.Equal(0, child.Used);
        Assert.Equal(4096, root.Used);
        Assert.Equal(4096, root.Parked);

        using (child.Rent(4000))
        {
            Assert.Equal(4096, child.Used);
            Assert.Equal(4096, root.Used); // the parked buffer's root charge was released when the child took it
            Assert.Equal(0, root.Parked);
        }

        root.TrimParked();
        Assert.Equal(0, root.Arena.Chunks.Bytes);
        TestBudgets.AssertEmpty(child, root);
    }

    [Fact]
    public void Disposing_twice_is_harmless_and_memory_after_dispose_throws()
    {
        using MemoryBudget budget = TestBudgets.Flat(1L << 20);
        IMemoryOwner<byte> owner = budget.Rent(100);
        using (owner.Memory.Pin())
        {
        }

        owner.Dispose();
        owner.Dispose();
        ObjectDisposedException e = Assert.Throws<ObjectDisposedException>(() => owner.Memory);
        Assert.Contains(budget.Name, e.Message, StringComparison.Ordinal);
        Assert.Equal(128, budget.Parked); // returned once
        budget.TrimParked();
        TestBudgets.AssertEmpty(budget);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(1001)]
    public void A_bad_size_names_the_size_and_the_limit_and_changes_nothing(int size)
    {
        using MemoryBudget budget = TestBudgets.Small();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => budget.Rent(size));
        Assert.Equal("size", e.ParamName);
        Assert.Contains($"{size} bytes", e.Message, StringComparison.Ordinal);
        Assert.Contains("1000 bytes", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => budget.TryRent(size, out _));
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_size_whose_class_would_not_fit_the_budget_is_charged_exactly()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        using (IMemoryOwner<byte> owner = budget.Rent(1000))
        {
            Assert.Equal(1000, budget.Used);
        }

        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Poisoning_catches_a_write_after_dispose_on_the_next_rent()
    {
        var options = TestBudgets.Flat("poisoned", 1L << 20);
        options.PoisonFreedBuffers = true;
        using var budget = new MemoryBudget(options);

        IMemoryOwner<byte> owner = budget.Rent(256);
        Span<byte> kept = owner.Memory.Span; // a span that outlives its owner: the bug poisoning is for
        owner.Dispose();
        kept[0] = 1;

        var e = Assert.Throws<InvalidOperationException>(() => budget.Rent(256));
        Assert.Contains("written after it was returned", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, budget.Arena.Chunks.Bytes); // the corrupt buffer was freed, not handed out
        TestBudgets.AssertEmpty(budget);

        using (IMemoryOwner<byte> clean = budget.Rent(256))
        {
        }

        budget.Rent(256).Dispose(); // a clean reuse passes the check
        budget.TrimParked();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Renting_inside_a_reservation_draws_from_it_as_a_charge_does()
    {
        using MemoryBudget budget = TestBudgets.Flat(1L << 20);
        Assert.True(budget.TryReserve(64 * 1024, out MemoryReservation? reservation, ReservationMode.Tokens));
        using (reservation)
        {
            using (reservation!.Enter())
            {
                using IMemoryOwner<byte> owner = budget.Rent(4096);
                Assert.Equal(4096, reservation.Drawn);
                Assert.Equal(4096, budget.Used);
            }
        }

        budget.TrimParked();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Parked_memory_is_given_back_before_a_charge_is_refused()
    {
        using MemoryBudget budget = TestBudgets.Flat(1L << 20);
        var owners = new List<IMemoryOwner<byte>>();
        for (int i = 0; i < 8; i++)
        {
            owners.Add(budget.Rent(16 * 1024));
        }

        owners.ForEach(o => o.Dispose());
        Assert.True(budget.Parked > 0);

        // Another user's charge runs reclaim: the arena, the cheapest reclaimer, gives back what it parked.
        budget.Charge(budget.Capacity, AllocationMode.MayFail);
        Assert.Equal(0, budget.Parked);
        Assert.Equal(0, budget.Arena.Chunks.Bytes);
        budget.Uncharge(budget.Capacity);

        // A rent that does not fit trims first, even when it may not wait.
        owners.Clear();
        for (int i = 0; i < 8; i++)
        {
            owners.Add(budget.Rent(16 * 1024));
        }

        owners.ForEach(o => o.Dispose());
        Assert.True(budget.TryRent((int)budget.Capacity, out IMemoryOwner<byte>? whole));
        whole!.Dispose();
        Assert.Equal(0, budget.Parked);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task Native_bytes_never_exceed_the_root_capacity()
    {
        const long capacity = 1L << 20;
        using MemoryBudget budget = TestBudgets.Flat(capacity);
        MemoryBudget child = budget.CreateChild(TestBudgets.FlatChild("child", capacity / 2));
        NativeArena arena = budget.Arena;
        long over = 0;

        void Work(int seed)
        {
            var random = new Random(seed);
            var held = new List<IMemoryOwner<byte>>();
            for (int i = 0; i < 20_000; i++)
            {
                MemoryBudget target = random.Next(3) == 0 ? child : budget;
                if (target.TryRent(random.Next(1, 80 * 1024), out IMemoryOwner<byte>? owner, AllocationMode.MayFail))
                {
                    held.Add(owner);
                }

                if (held.Count > 4 || (held.Count > 0 && random.Next(2) == 0))
                {
                    int index = random.Next(held.Count);
                    held[index].Dispose();
                    held.RemoveAt(index);
                }

                if (arena.Chunks.Bytes > capacity)
                {
                    Interlocked.Increment(ref over);
                }
            }

            held.ForEach(o => o.Dispose());
        }

        Task[] workers = [.. Enumerable.Range(0, 4).Select(seed => Task.Factory.StartNew(() => Work(seed), TaskCreationOptions.LongRunning))];
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(0, Interlocked.Read(ref over));
        Assert.InRange(arena.Chunks.Peak, 1, capacity);
        budget.TrimParked();
        Assert.Equal(0, arena.Chunks.Bytes);
        TestBudgets.AssertEmpty(child, budget);
    }

    [Fact]
    public void A_disposed_root_gives_back_parked_memory_and_buffers_still_out_free_theirs()
    {
        MemoryBudget budget = TestBudgets.Flat(1L << 20);
        NativeArena arena = budget.Arena;
        IMemoryOwner<byte> held = budget.Rent(4096);
        budget.Rent(1024).Dispose();
        Assert.Equal(1024, budget.Parked);

        budget.Dispose();
        Assert.Equal(0, budget.Parked);
        Assert.Throws<ObjectDisposedException>(() => budget.Rent(10));
        held.Dispose();
        Assert.Equal(0, arena.Chunks.Bytes);
        Assert.Equal(0, budget.Used);
    }

    [Fact]
    public async Task A_NoFail_rent_waits_for_a_return_and_a_cancelled_one_leaves_nothing()
    {
        using MemoryBudget budget = TestBudgets.Flat(8192);
        IMemoryOwner<byte> first = budget.Rent(8192);

        using var cancel = new CancellationTokenSource();
        ValueTask<IMemoryOwner<byte>> cancelled = budget.RentAsync(4096, cancellationToken: cancel.Token);
        Assert.False(cancelled.IsCompleted);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await cancelled);
        Assert.Equal(8192, budget.Used);

        ValueTask<IMemoryOwner<byte>> waiting = budget.RentAsync(4096);
        Assert.False(waiting.IsCompleted);
        first.Dispose(); // a waiter at the root: the buffer is freed, not parked
        using (IMemoryOwner<byte> second = await waiting.AsTask().WaitAsync(TimeSpan.FromSeconds(10)))
        {
            Assert.Equal(4096, budget.Used);
        }

        budget.TrimParked();
        TestBudgets.AssertEmpty(budget);
    }
    [Fact]
    public void A_NoWait_charge_refused_only_for_parked_memory_gets_it_back_at_the_root_and_through_a_child()
    {
        const long Capacity = 1L << 20;
        using MemoryBudget root = TestBudgets.Flat(Capacity);
        MemoryBudget child = root.CreateChild(TestBudgets.FlatChild("child", Capacity));
        root.Rent(64 << 10).Dispose();
        root.Rent(32 << 10).Dispose();
        Assert.Equal(96 << 10, root.Parked);
        Assert.Equal(96 << 10, root.Used); // parked memory is charged to the root

        // More than is free while the buffers are parked, and no more than the whole capacity: granted only by a trim.
        long large = Capacity - (32 << 10);
        Assert.True(root.TryCharge(large, AllocationMode.NoWait));
        Assert.Equal(0, root.Parked);
        Assert.Equal(large, root.Used);
        root.Uncharge(large);

        root.Rent(64 << 10).Dispose();
        Assert.True(child.TryCharge(large, AllocationMode.NoWait)); // refused by the root, for the child's charge
        Assert.Equal(0, root.Parked);
        Assert.Equal(large, child.Used);
        child.Uncharge(large);

        // A child's own refusal is not the parked memory's doing: nothing is trimmed for it.
        MemoryBudget small = root.CreateChild(TestBudgets.FlatChild("small", 128 << 10));
        root.Rent(64 << 10).Dispose();
        small.Charge(64 << 10, AllocationMode.NoWait);
        Assert.False(small.TryCharge(65 << 10, AllocationMode.NoWait));
        Assert.Equal(64 << 10, root.Parked);
        small.Uncharge(64 << 10);

        small.Dispose();
        child.Dispose();
        root.TrimParked();
        TestBudgets.AssertEmpty(root);
    }
}
