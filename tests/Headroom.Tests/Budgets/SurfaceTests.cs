namespace Headroom.Tests.Budgets;

/// <summary>The budget's readings and options as a user meets them: watermarks, Available, root-only settings, async dispose.</summary>
public sealed class SurfaceTests
{
    [Fact]
    public void The_budget_reads_back_the_watermarks_its_options_set()
    {
        using MemoryBudget root = TestBudgets.Small();
        MemoryBudget child = root.CreateChild(new ChildBudgetOptions { Name = "child", Capacity = 500, MinWatermark = 10, LowWatermark = 20, HighWatermark = 30 });
        Assert.Equal((100, 200, 300), (root.MinWatermark, root.LowWatermark, root.HighWatermark));
        Assert.Equal((10, 20, 30), (child.MinWatermark, child.LowWatermark, child.HighWatermark));
        MemoryBudgetSnapshot s = child.GetSnapshot();
        Assert.Equal((10, 20, 30), (s.Min, s.Low, s.High));
    }

    [Fact]
    public void Available_is_capacity_less_committed_and_free_is_capacity_less_used()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        Assert.True(budget.TryReserve(100, out MemoryReservation? reservation));
        budget.Charge(200, AllocationMode.NoWait);

        Assert.Equal(800, budget.Free); // the ledger: 200 charged
        Assert.Equal(700, budget.Available); // 200 charged + 100 reserved
        Assert.Equal(budget.Capacity - budget.Committed, budget.Available);

        reservation.Dispose();
        Assert.Equal(800, budget.Available);
        budget.Uncharge(200);
        Assert.Equal(1000, budget.Available);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_child_cannot_be_given_settings_only_a_root_has()
    {
        foreach (string rootOnly in new[] { nameof(MemoryBudgetOptions.TimeProvider), nameof(MemoryBudgetOptions.Logger), nameof(MemoryBudgetOptions.CanaryInterval), nameof(MemoryBudgetOptions.Oom) })
        {
            Assert.NotNull(typeof(MemoryBudgetOptions).GetProperty(rootOnly));
            Assert.Null(typeof(ChildBudgetOptions).GetProperty(rootOnly));
        }
    }

    [Fact]
    public void A_childs_options_are_checked_up_front_and_named_as_the_caller_wrote_them()
    {
        using MemoryBudget root = TestBudgets.Flat(1000, "root");

        var capacity = Assert.Throws<ArgumentOutOfRangeException>(() => root.CreateChild(new ChildBudgetOptions { Name = "c", Capacity = 0 }));
        Assert.Equal("Capacity", capacity.ParamName);
        Assert.Contains("ChildBudgetOptions.Capacity must be positive; it was 0", capacity.Message, StringComparison.Ordinal);

        var watermark = Assert.Throws<ArgumentOutOfRangeException>(() => root.CreateChild(new ChildBudgetOptions { Name = "c", Capacity = 100, MinWatermark = 101 }));
        Assert.Equal("MinWatermark", watermark.ParamName);
        Assert.Contains("ChildBudgetOptions.MinWatermark", watermark.Message, StringComparison.Ordinal);

        var above = Assert.Throws<ArgumentOutOfRangeException>(() => root.CreateChild(new ChildBudgetOptions { Name = "c", Capacity = 1001 }));
        Assert.Equal("Capacity", above.ParamName); // the property's path in the options, as for the options' own checks
        Assert.Contains("1001", above.Message, StringComparison.Ordinal);
        Assert.Contains("'root' has 1000", above.Message, StringComparison.Ordinal);

        Assert.Equal("name", Assert.Throws<ArgumentException>(() => root.CreateChild(" ", 10)).ParamName);
        var tooBig = Assert.Throws<ArgumentOutOfRangeException>(() => root.CreateChild("c", 1001));
        Assert.Equal("capacity", tooBig.ParamName);
        Assert.Equal(1001L, tooBig.ActualValue);
        Assert.Equal("capacity", Assert.Throws<ArgumentOutOfRangeException>(() => root.CreateChild("c", -1)).ParamName);
        Assert.Equal("options", Assert.Throws<ArgumentNullException>(() => root.CreateChild(null!)).ParamName);

        Assert.StartsWith("MemoryBudgetOptions.Capacity must be positive; it was 0.", Assert.Throws<ArgumentOutOfRangeException>(() => new MemoryBudget(new MemoryBudgetOptions())).Message, StringComparison.Ordinal);
        TestBudgets.AssertEmpty(root);
    }

    [Fact]
    public async Task Disposing_a_root_asynchronously_waits_for_its_background_worker_to_end()
    {
        MemoryBudget budget = TestBudgets.Small(); // capacity 1000, min 100, low 200, high 300
        using var reclaimer = new GatedReclaimer(budget, 500);
        using IDisposable registration = budget.RegisterReclaimer(reclaimer, new ReclaimerOptions { Domain = "gate", Timeout = Timeout.InfiniteTimeSpan });

        budget.Charge(350, AllocationMode.MayFail); // 850 committed: below low, the worker wakes and calls the reclaimer
        await reclaimer.Entered.WaitAsync(TimeSpan.FromSeconds(30));

        ValueTask disposing = budget.DisposeAsync();
        await Task.Delay(20);
        Assert.False(disposing.IsCompleted); // the worker is still inside the reclaimer

        reclaimer.Open();
        await disposing.AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(budget.IsDisposed);

        budget.Uncharge(350); // uncharging stays allowed after dispose
        reclaimer.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task Disposing_asynchronously_without_a_worker_or_at_a_child_completes_at_once()
    {
        MemoryBudget root = TestBudgets.Small();
        MemoryBudget child = root.CreateChild("child", 100);
        ValueTask childDisposed = child.DisposeAsync();
        Assert.True(childDisposed.IsCompleted);
        Assert.True(child.IsDisposed);
        ValueTask rootDisposed = root.DisposeAsync();
        Assert.True(rootDisposed.IsCompleted);
        await rootDisposed;
        await root.DisposeAsync(); // twice is harmless
        TestBudgets.AssertEmpty(root);
    }

    /// <summary>Holds charged bytes; its first reclaim call waits for <see cref="Open"/>, so a test can see the worker inside it.</summary>
    private sealed class GatedReclaimer : IMemoryReclaimer, IDisposable
    {
        private readonly MemoryBudget _budget;
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly ManualResetEventSlim _open = new();
        private long _held;

        internal GatedReclaimer(MemoryBudget budget, long held)
        {
            _budget = budget;
            _held = held;
            budget.Charge(held, AllocationMode.NoWait);
        }

        internal Task Entered => _entered.Task;

        public long GetReclaimableBytes() => Interlocked.Read(ref _held);

        public ReclaimResult Reclaim(long target, CancellationToken cancellationToken)
        {
            _entered.TrySetResult();
            _open.Wait(TimeSpan.FromSeconds(30), CancellationToken.None); // deaf to cancellation: the worker must wait it out
            return ReclaimResult.Stop;
        }

        internal void Open() => _open.Set();

        internal void Drop() => _budget.Uncharge(Interlocked.Exchange(ref _held, 0));

        public void Dispose() => _open.Dispose();
    }
}
