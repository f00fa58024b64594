namespace Headroom.Tests.Reclaim;

/// <summary>The tests that change the thread pool's limits run alone.</summary>
[CollectionDefinition(nameof(ThreadPoolLimits), DisableParallelization = true)]
public sealed class ThreadPoolLimits;

/// <summary>Issue 10 item 4: asynchronous charges await direct reclaim; no thread is blocked on a reclaimer's task.</summary>
[Collection(nameof(ThreadPoolLimits))]
public sealed class AsyncReclaimTests
{
    [Fact]
    public async Task Hundreds_of_ChargeAsync_against_a_slow_async_reclaimer_leave_the_thread_pool_free_and_all_complete_once_memory_returns()
    {
        const int Charges = 300;
        const long Each = 10;
        using MemoryBudget budget = TestBudgets.Flat(Charges * Each, "pool");
        var reclaimer = new SlowReclaimer(budget, Charges * Each);
        using IDisposable registration = budget.RegisterReclaimer(reclaimer, new ReclaimerOptions { Domain = "slow", Timeout = TimeSpan.FromSeconds(2) });
        Exception? failure = null;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // The body runs on a thread of its own, so that its blocking waits take nothing from the pool it watches.
        var body = new Thread(() =>
        {
            ThreadPool.GetMinThreads(out int minWorkers, out int minIo);
            ThreadPool.GetMaxThreads(out int maxWorkers, out int maxIo);
            Task[] charges = [];
            try
            {
                // No growth on demand: the threads the test host already runs (some of them blocked in its own
                // plumbing) plus the pool's minimum, and not one more.
                Assert.True(ThreadPool.SetMaxThreads(ThreadPool.ThreadCount + minWorkers, maxIo), "could not hold the pool at its minimum");
                charges = [.. Enumerable.Range(0, Charges).Select(_ => Task.Run(() => budget.ChargeAsync(Each, AllocationMode.NoFail).AsTask()))];
                bool started = reclaimer.Started.Wait(TimeSpan.FromSeconds(10));
                Assert.True(started, $"no reclaim started: threads {ThreadPool.ThreadCount}, pending {ThreadPool.PendingWorkItemCount}, completed {ThreadPool.CompletedWorkItemCount}, charges done {charges.Count(c => c.IsCompleted)}, faulted {charges.FirstOrDefault(c => c.IsFaulted)?.Exception}, queued {budget.Queue.Count}, committed {budget.Committed}");

                using var ran = new ManualResetEventSlim();
                ThreadPool.UnsafeQueueUserWorkItem(static state => ((ManualResetEventSlim)state!).Set(), ran);
                Assert.True(ran.Wait(TimeSpan.FromSeconds(10)), "an unrelated work item did not run: the pool is starved");
                Assert.DoesNotContain(charges, c => c.IsCompleted); // all still waiting for memory

                reclaimer.Open(); // memory returns
                Assert.True(Task.WaitAll(charges, TimeSpan.FromSeconds(60)), "not every charge completed once memory returned");
            }
            catch (Exception e)
            {
                failure = e;
            }
            finally
            {
                ThreadPool.SetMaxThreads(maxWorkers, maxIo);
                reclaimer.Open();
                done.SetResult();
            }
        });
        body.Start();
        await done.Task.WaitAsync(TimeSpan.FromSeconds(120)); // awaited, not joined: the test's own thread goes back to the pool
        if (failure is not null)
        {
            throw new Xunit.Sdk.XunitException(failure.ToString());
        }

        Assert.Equal(0, reclaimer.Held); // the independent ledger: 300 × 10 charged, so all 3000 cached bytes were freed
        Assert.Equal(Charges * Each, budget.Used);
        budget.Uncharge(Charges * Each);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task The_callers_token_reaches_an_async_reclaimer_and_cancels_the_charge()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        var reclaimer = new SlowReclaimer(budget, 1000);
        using IDisposable registration = budget.RegisterReclaimer(reclaimer, new ReclaimerOptions { Domain = "slow", Timeout = Timeout.InfiniteTimeSpan });
        using var cts = new CancellationTokenSource();

        Task charge = budget.ChargeAsync(100, AllocationMode.RetryMayFail, cancellationToken: cts.Token).AsTask();
        Assert.True(await Task.Run(() => reclaimer.Started.Wait(TimeSpan.FromSeconds(30))));
        Assert.False(charge.IsCompleted); // awaiting the reclaimer, which awaits its gate
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => charge.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(reclaimer.SawCancellation);
        Assert.Equal(1000, budget.Used); // nothing charged, nothing freed

        reclaimer.Open();
        reclaimer.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    /// <summary>An asynchronous cache that awaits a gate before it frees anything.</summary>
    private sealed class SlowReclaimer : IAsyncMemoryReclaimer
    {
        private readonly MemoryBudget _budget;
        private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _held;

        internal SlowReclaimer(MemoryBudget budget, long held)
        {
            _budget = budget;
            budget.Charge(held, AllocationMode.NoWait);
            _held = held;
        }

        internal ManualResetEventSlim Started { get; } = new();

        internal long Held => Interlocked.Read(ref _held);

        internal bool SawCancellation { get; private set; }

        public long GetReclaimableBytes() => Held;

        public async ValueTask<long> ReclaimAsync(long target, CancellationToken cancellationToken)
        {
            Started.Set();
            try
            {
                await _gate.Task.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                SawCancellation = true;
                throw;
            }

            return Free(target);
        }

        internal void Open() => _gate.TrySetResult();

        internal void Drop() => Free(long.MaxValue);

        private long Free(long bytes)
        {
            long freed;
            lock (_gate)
            {
                freed = Math.Min(bytes, _held);
                _held -= freed;
            }

            if (freed > 0)
            {
                _budget.Uncharge(freed);
            }

            return freed;
        }
    }
}
