namespace Headroom.Tests.Pools;

/// <summary><see cref="Mempool{T}"/> follows mempool_alloc's order (semantics §9), against the test's own count of elements.</summary>
public sealed class MempoolTests
{
    private const long Element = 1024;

    [Fact]
    public void Fresh_memory_first_then_the_pool_then_the_full_mode_and_NoWait_fails_only_when_both_are_gone()
    {
        using MemoryBudget budget = TestBudgets.Flat(1L << 20);
        int created = 0;
        using var pool = new Mempool<byte[]>(budget, 2, Element, () => { created++; return new byte[1]; });
        Assert.Equal(2 * Element, budget.Used);

        byte[] fresh = pool.Alloc(AllocationMode.NoWait); // 1. without reclaim: the budget has room
        Assert.Equal(3, created);
        Assert.Equal(2, pool.Pooled);

        // Parked buffers are free memory to every mode (semantics §9): step 1 takes them back, although it never reclaims.
        budget.Rent(16 * 1024).Dispose();
        budget.Rent(32 * 1024).Dispose();
        Assert.True(budget.Parked > 0);
        long rest = budget.Capacity - budget.Used;
        budget.Charge(rest, AllocationMode.NoWait); // all that is free besides the parked bytes
        byte[] fromParked = pool.Alloc(AllocationMode.NoWait);
        Assert.Equal(4, created);
        Assert.Equal(0, budget.Parked);

        // A cache's bytes are reclaimable, but only by an attempt that reclaims.
        long free = budget.Capacity - budget.Used;
        var cache = new Reclaim.TestCache(budget, free);
        using IDisposable registration = budget.RegisterReclaimer(cache, new ReclaimerOptions { Domain = "cache", Timeout = Timeout.InfiniteTimeSpan });

        byte[] pooled1 = pool.Alloc(AllocationMode.MayFail); // 2. the pool, before any reclaim
        byte[] pooled2 = pool.Alloc(AllocationMode.MayFail);
        Assert.Equal(0, pool.Pooled);
        Assert.Equal(4, created);
        Assert.Equal(free, cache.Cached);

        byte[] reclaimed = pool.Alloc(AllocationMode.MayFail); // 3. the full mode: reclaim freed some of the cache
        Assert.Equal(5, created);
        Assert.True(cache.Cached < free);

        Assert.Equal(budget.Capacity, budget.Used); // reclaim freed just what the element needed
        long used = budget.Used;
        Assert.Throws<MemoryAllocationException>(() => pool.Alloc(AllocationMode.NoWait)); // empty pool, full budget
        Assert.False(pool.TryAlloc(out _));
        Assert.Equal(used, budget.Used); // a refusal changes nothing

        budget.Uncharge(rest);
        cache.Reclaim(long.MaxValue, CancellationToken.None);
        foreach (byte[] e in new[] { fresh, fromParked, pooled1, pooled2, reclaimed })
        {
            pool.Free(e);
        }

        Assert.Equal(2, pool.Pooled); // refilled to its minimum; the rest destroyed
        Assert.Equal(2 * Element, budget.Used);
        pool.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_blocking_caller_always_gets_an_element_and_a_cancelled_one_leaves_nothing()
    {
        using MemoryBudget budget = TestBudgets.Flat(4 * Element);
        using var pool = new Mempool<object>(budget, 1, Element, static () => new object());
        budget.Charge(3 * Element, AllocationMode.NoWait);
        object only = pool.Alloc();
        Assert.Equal(0, pool.Pooled);

        using (var cancel = new CancellationTokenSource())
        {
            ValueTask<object> cancelled = pool.AllocAsync(AllocationMode.NoFail, cancellationToken: cancel.Token);
            Assert.False(cancelled.IsCompleted);
            cancel.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await cancelled);
        }

        ValueTask<object> waiting = pool.AllocAsync(AllocationMode.MayFail); // may block: it waits rather than fails
        Task<object> blocking = Task.Factory.StartNew(() => pool.Alloc(AllocationMode.NoFail), TaskCreationOptions.LongRunning);
        Assert.False(waiting.IsCompleted);

        pool.Free(only); // handed to the oldest waiter
        object got = await waiting.AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Same(only, got);
        while (!blocking.IsCompleted)
        {
            pool.Free(got);
            got = await Task.WhenAny(blocking, Task.Delay(50)) == blocking ? await blocking : pool.Alloc(AllocationMode.NoWait);
        }

        pool.Free(await blocking);
        Assert.Equal(1, pool.Pooled);
        budget.Uncharge(3 * Element);
        pool.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Bad_arguments_are_refused_and_a_disposed_pool_refuses_allocations()
    {
        using MemoryBudget budget = TestBudgets.Flat(4 * Element);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Mempool<object>(budget, -1, Element, static () => new object()));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Mempool<object>(budget, 1, 0, static () => new object()));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Mempool<object>(budget, 5, Element, static () => new object()));
        var pool = new Mempool<object>(budget, 1, Element, static () => new object());
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.TryAlloc(out _, AllocationMode.NoFail));
        pool.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pool.Alloc());
        TestBudgets.AssertEmpty(budget);
    }
    [Fact]
    public void Freeing_an_element_twice_is_refused_and_changes_nothing()
    {
        using MemoryBudget budget = TestBudgets.Flat(2 * Element); // the pool's minimum fills it: allocations come from the pool
        using var pool = new Mempool<object>(budget, 2, Element, static () => new object());
        object element = pool.Alloc(AllocationMode.NoWait);
        Assert.Equal(1, pool.Pooled);
        pool.Free(element); // back into the pool, which was below its minimum

        var twice = Assert.Throws<InvalidOperationException>(() => pool.Free(element));
        Assert.Contains("freed twice", twice.Message, StringComparison.Ordinal);
        Assert.Equal(2, pool.Pooled);
        Assert.Equal(2 * Element, budget.Used);

        // The refused free did not push the element again: the pool hands out two distinct elements, then none.
        object first = pool.Alloc(AllocationMode.NoWait);
        object second = pool.Alloc(AllocationMode.NoWait);
        Assert.NotSame(first, second);
        Assert.False(pool.TryAlloc(out _));
        pool.Free(first);
        Assert.Throws<InvalidOperationException>(() => pool.Free(first));
        pool.Free(second);
        Assert.Equal(2, pool.Pooled);

        pool.Dispose(); // destroys the pooled elements
        TestBudgets.AssertEmpty(budget);
    }
}
