using Microsoft.Extensions.Logging.Testing;

namespace Headroom.Tests.Oom;

/// <summary>
/// Semantics §7: a kill never runs the victim's code on the allocating thread. Cancellation is signalled on a worker of
/// its own, and reapable memory is reaped on the reaper's worker as a registered reclaimer is called (timeout, faults
/// isolated), so an allocator that holds a lock the victim needs cannot deadlock with it.
/// </summary>
public sealed class ReaperTests : IDisposable
{
    /// <summary>A hang guard only: every wait here ends at once when the code is right.</summary>
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    private readonly SemaphoreSlim _lockL = new(1, 1); // not re-entrant: the allocator's thread cannot take it twice

    public void Dispose() => _lockL.Dispose();

    private static MemoryBudget Create(FakeLogger? logger = null) => new(new MemoryBudgetOptions
    {
        Name = "engine",
        Capacity = 1000,
        MinWatermark = 100,
        LowWatermark = 100,
        HighWatermark = 100,
        CanaryInterval = Timeout.InfiniteTimeSpan,
        Logger = logger,
        Oom = new OomOptions { KillTimeout = TimeSpan.FromHours(1) },
    });

    [Fact]
    public async Task An_allocator_holding_the_lock_the_victims_cancellation_callback_takes_is_granted()
    {
        using MemoryBudget budget = Create();
        using var cts = new CancellationTokenSource();
        using MemoryConsumer victim = budget.RegisterConsumer("victim", cts);
        MemoryReservation reservation;
        using (victim.Enter())
        {
            reservation = await budget.ReserveAsync(600); // reapable without the victim
        }

        budget.Charge(300, AllocationMode.NoWait);
        int allocatorThread = 0;
        bool inCharge = false, callbackInCharge = false, callbackGotL = false;
        cts.Token.Register(() =>
        {
            callbackInCharge = Volatile.Read(ref inCharge) && Environment.CurrentManagedThreadId == allocatorThread;
            callbackGotL = _lockL.Wait(TimeSpan.FromSeconds(5)); // the victim's unwinding needs L
            if (callbackGotL)
            {
                _lockL.Release();
            }
        });

        await Task.Run(() =>
        {
            _lockL.Wait();
            try
            {
                allocatorThread = Environment.CurrentManagedThreadId;
                Volatile.Write(ref inCharge, true);
                budget.Charge(500, AllocationMode.NoFail, site: "allocator"); // holds L while it waits
            }
            finally
            {
                Volatile.Write(ref inCharge, false);
                _lockL.Release();
            }
        }).WaitAsync(Guard);
        await victim.Killing.WaitAsync(Guard);

        Assert.True(victim.IsKilled);
        Assert.True(reservation.IsDisposed);
        Assert.False(callbackInCharge); // the victim's code never ran on the allocating thread, inside its charge
        Assert.True(callbackGotL); // and it got L once the allocator let go: nobody deadlocked
        budget.Uncharge(800);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task Reapable_memory_is_reaped_on_the_reapers_worker_and_a_faulty_reapable_is_isolated()
    {
        var logger = new FakeLogger();
        using MemoryBudget budget = Create(logger);
        using var cts = new CancellationTokenSource();
        using MemoryConsumer victim = budget.RegisterConsumer("victim", cts);
        using var gate = new ManualResetEventSlim();
        var cache = new GatedCache(budget, 300, gate);
        TestBudgets.ChargeAs(victim, budget, 200);
        using IDisposable reapable = victim.RegisterReapable(cache);
        using IDisposable faulty = victim.RegisterReapable(new ThrowingReapable());
        budget.Charge(300, AllocationMode.NoWait); // 800 committed

        int allocatorThread = 0;
        Task allocator = Task.Run(() =>
        {
            allocatorThread = Environment.CurrentManagedThreadId;
            budget.Charge(300, AllocationMode.NoFail, site: "allocator"); // 1100 > 900: kills the victim
        });
        await cache.Entered.Task.WaitAsync(Guard); // the reaper is inside the reapable, which waits for its gate
        Assert.NotEqual(allocatorThread, cache.CallerThread); // not on the allocating thread
        Assert.False(allocator.IsCompleted); // no memory back yet
        gate.Set();
        await allocator.WaitAsync(Guard); // the reapable freed its 300: 800 + 300 − 300 ≤ 900
        await victim.Killing.WaitAsync(Guard);

        Assert.True(cache.InReclaimContext); // called as a registered reclaimer is
        Assert.Contains(logger.Collector.GetSnapshot(), r => r.Message.Contains("oom-reaper", StringComparison.Ordinal)); // the fault: isolated, reported
        Assert.Equal(800, budget.Used);
        TestBudgets.UnchargeAs(victim, budget, 200);
        budget.Uncharge(600);
        TestBudgets.AssertEmpty(budget);
    }

    /// <summary>A cache of its own that frees <c>size</c> bytes once its gate opens.</summary>
    private sealed class GatedCache(MemoryBudget budget, long size, ManualResetEventSlim gate) : IMemoryReclaimer
    {
        private long _held = Charge(budget, size);

        internal TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        internal int CallerThread { get; private set; }

        internal bool InReclaimContext { get; private set; }

        public long GetReclaimableBytes() => Volatile.Read(ref _held);

        public ReclaimResult Reclaim(long target, CancellationToken cancellationToken)
        {
            CallerThread = Environment.CurrentManagedThreadId;
            InReclaimContext = AllocationContext.Current?.Reclaiming is not null;
            Entered.TrySetResult();
            gate.Wait(cancellationToken);
            long freed = Interlocked.Exchange(ref _held, 0);
            if (freed > 0)
            {
                budget.Uncharge(freed);
            }

            return new ReclaimResult(freed);
        }

        private static long Charge(MemoryBudget budget, long size)
        {
            budget.Charge(size, AllocationMode.NoWait);
            return size;
        }
    }

    private sealed class ThrowingReapable : IMemoryReclaimer
    {
        public long GetReclaimableBytes() => 1;

        public ReclaimResult Reclaim(long target, CancellationToken cancellationToken) => throw new InvalidOperationException("reapable bug");
    }
}
