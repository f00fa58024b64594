namespace Headroom.Tests.Reclaim;

/// <summary>The tests that change the thread pool's limits run alone.</summary>
[CollectionDefinition(nameof(ThreadPoolLimits), DisableParallelization = true)]
public sealed class ThreadPoolLimits;

/// <summary>Issue 10 item 4: asynchronous charges await direct reclaim; no thread is blocked on a reclaimer's task.</summary>
[Collection(nameof(ThreadPoolLimits))]
public sealed class AsyncReclaimTests
{
    [Fact]
    public Task Hundreds_of_ChargeAsync_against_a_slow_async_reclaimer_leave_the_thread_pool_free_and_all_complete_once_memory_returns() =>
        HundredsAgainstASlowReclaimer(
            static budget => async () =>
            {
                await budget.ChargeAsync(Each, AllocationMode.NoFail);
                return () => budget.Uncharge(Each);
            },
            static budget => budget.Used);

    [Fact]
    public Task Hundreds_of_ReserveAsync_against_a_slow_async_reclaimer_leave_the_thread_pool_free_and_all_complete_once_memory_returns() =>
        HundredsAgainstASlowReclaimer(
            static budget => async () =>
            {
                MemoryReservation reservation = await budget.ReserveAsync(Each);
                return reservation.Dispose;
            },
            static budget => budget.Reserved);

    [Fact]
    public Task Hundreds_of_GrowAsync_against_a_slow_async_reclaimer_leave_the_thread_pool_free_and_all_complete_once_memory_returns() =>
        HundredsAgainstASlowReclaimer(
            static budget =>
            {
                MemoryReservation reservation = Seed(budget, ReservationMode.Watermark);
                return async () =>
                {
                    await reservation.GrowAsync(Each - 1);
                    return reservation.Dispose;
                };
            },
            static budget => budget.Reserved,
            seeds: 1);

    [Fact]
    public Task Hundreds_of_a_reservations_ChargeAsync_beyond_it_against_a_slow_async_reclaimer_leave_the_thread_pool_free_and_all_complete_once_memory_returns() =>
        HundredsAgainstASlowReclaimer(
            static budget =>
            {
                MemoryReservation reservation = Seed(budget, ReservationMode.Tokens);
                return async () =>
                {
                    await reservation.ChargeAsync(Each); // 1 drawn from the reservation, the excess of 9 ordinary
                    reservation.Dispose();
                    return () => budget.Uncharge(Each);
                };
            },
            static budget => budget.Used,
            seeds: 1);

    [Fact]
    public Task Hundreds_of_ChargeAsync_in_a_reservations_scope_against_a_slow_async_reclaimer_leave_the_thread_pool_free_and_all_complete_once_memory_returns() =>
        HundredsAgainstASlowReclaimer(
            static budget =>
            {
                MemoryReservation reservation = Seed(budget, ReservationMode.Tokens);
                return async () =>
                {
                    using (reservation.Enter())
                    {
                        await budget.ChargeAsync(Each, AllocationMode.NoFail); // ambient: 1 drawn, the excess ordinary
                    }

                    reservation.Dispose();
                    return () => budget.Uncharge(Each);
                };
            },
            static budget => budget.Used,
            seeds: 1);

    [Fact]
    public async Task The_callers_token_reaches_an_async_reclaimer_and_cancels_the_charge()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        var reclaimer = new GatedReclaimer(budget, 1000);
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

    [Fact]
    public async Task The_callers_token_reaches_an_async_reclaimer_and_cancels_the_reservation()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        var reclaimer = new GatedReclaimer(budget, 1000);
        using IDisposable registration = budget.RegisterReclaimer(reclaimer, new ReclaimerOptions { Domain = "slow", Timeout = Timeout.InfiniteTimeSpan });
        using var cts = new CancellationTokenSource();

        Task<MemoryReservation> reserve = budget.ReserveAsync(100, cancellationToken: cts.Token).AsTask();
        Assert.True(await Task.Run(() => reclaimer.Started.Wait(TimeSpan.FromSeconds(30))));
        Assert.False(reserve.IsCompleted); // awaiting the reclaimer, which awaits its gate
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reserve.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(reclaimer.SawCancellation);
        Assert.Equal(1000, budget.Used); // nothing reserved, nothing freed
        Assert.Equal(0, budget.Reserved);

        reclaimer.Open();
        reclaimer.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task The_callers_token_reaches_an_async_reclaimer_and_cancels_the_growth_leaving_the_reservation_as_it_was()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        Assert.True(budget.TryReserve(10, out MemoryReservation? reservation));
        var reclaimer = new GatedReclaimer(budget, 990);
        using IDisposable registration = budget.RegisterReclaimer(reclaimer, new ReclaimerOptions { Domain = "slow", Timeout = Timeout.InfiniteTimeSpan });
        using var cts = new CancellationTokenSource();

        Task grow = reservation.GrowAsync(100, cts.Token).AsTask();
        Assert.True(await Task.Run(() => reclaimer.Started.Wait(TimeSpan.FromSeconds(30))));
        Assert.False(grow.IsCompleted);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => grow.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(reclaimer.SawCancellation);
        Assert.Equal(10, reservation.Amount);
        Assert.Equal(10, budget.Reserved);
        Assert.Equal(990, budget.Used);

        reservation.Dispose();
        reclaimer.Open();
        reclaimer.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task The_callers_token_reaches_an_async_reclaimer_and_cancels_a_reservations_charge_giving_back_what_it_drew()
    {
        using MemoryBudget budget = TestBudgets.Flat(1000);
        Assert.True(budget.TryReserve(10, out MemoryReservation? reservation, ReservationMode.Tokens));
        var reclaimer = new GatedReclaimer(budget, 990);
        using IDisposable registration = budget.RegisterReclaimer(reclaimer, new ReclaimerOptions { Domain = "slow", Timeout = Timeout.InfiniteTimeSpan });
        using var cts = new CancellationTokenSource();

        Task charge = reservation.ChargeAsync(100, AllocationMode.RetryMayFail, cancellationToken: cts.Token).AsTask();
        Assert.True(await Task.Run(() => reclaimer.Started.Wait(TimeSpan.FromSeconds(30))));
        Assert.False(charge.IsCompleted);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => charge.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(reclaimer.SawCancellation);
        Assert.Equal(10, reservation.Remaining); // the 10 it drew went back into it
        Assert.Equal(990, budget.Used);

        reservation.Dispose();
        reclaimer.Open();
        reclaimer.Drop();
        TestBudgets.AssertEmpty(budget);
    }

    private static MemoryReservation Seed(MemoryBudget budget, ReservationMode mode) =>
        budget.TryReserve(1, out MemoryReservation? seed, mode) ? seed : throw new InvalidOperationException("no room for a request's seed");

    private const int Requests = 300;
    private const long Each = 10;

    /// <summary>
    /// <see cref="Requests"/> concurrent requests of <see cref="Each"/> bytes against a budget that a slow asynchronous
    /// reclaimer fills, the thread pool held at its minimum: an unrelated work item still runs while they all await the
    /// reclaimer (none blocks a pool thread on it), and every one completes once memory returns. Each request returns how
    /// to give back what it holds; <paramref name="held"/> reads what they hold together, against the test's own count.
    /// </summary>
    /// <param name="request">Prepares one request (on the test's thread, before any starts) and returns it.</param>
    /// <param name="held">What the requests hold together once all completed.</param>
    /// <param name="seeds">Bytes each request's preparation takes (a reservation to grow or charge through), left out of the reclaimer's fill.</param>
    private static async Task HundredsAgainstASlowReclaimer(Func<MemoryBudget, Func<Task<Action>>> request, Func<MemoryBudget, long> held, long seeds = 0)
    {
        const long Total = Requests * Each;
        using MemoryBudget budget = TestBudgets.Flat(Total, "pool");
        var reclaimer = new GatedReclaimer(budget, Total - (Requests * seeds));
        using IDisposable registration = budget.RegisterReclaimer(reclaimer, new ReclaimerOptions { Domain = "slow", Timeout = TimeSpan.FromSeconds(2) });
        Exception? failure = null;
        Task<Action>[] requests = [];
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // The body runs on a thread of its own, so that its blocking waits take nothing from the pool it watches.
        var body = new Thread(() =>
        {
            ThreadPool.GetMinThreads(out int minWorkers, out int minIo);
            ThreadPool.GetMaxThreads(out int maxWorkers, out int maxIo);
            try
            {
                // No growth on demand: the threads the test host already runs (some of them blocked in its own
                // plumbing) plus the pool's minimum, and not one more.
                Assert.True(ThreadPool.SetMaxThreads(ThreadPool.ThreadCount + minWorkers, maxIo), "could not hold the pool at its minimum");
                Func<Task<Action>>[] prepared = [.. Enumerable.Range(0, Requests).Select(_ => request(budget))];
                requests = [.. prepared.Select(static run => Task.Run(run))];
                bool started = reclaimer.Started.Wait(TimeSpan.FromSeconds(10));
                Assert.True(started, $"no reclaim started: threads {ThreadPool.ThreadCount}, pending {ThreadPool.PendingWorkItemCount}, completed {ThreadPool.CompletedWorkItemCount}, done {requests.Count(c => c.IsCompleted)}, faulted {requests.FirstOrDefault(c => c.IsFaulted)?.Exception}, queued {budget.Queue.Count}, committed {budget.Committed}");

                using var ran = new ManualResetEventSlim();
                ThreadPool.UnsafeQueueUserWorkItem(static state => ((ManualResetEventSlim)state!).Set(), ran);
                Assert.True(ran.Wait(TimeSpan.FromSeconds(10)), "an unrelated work item did not run: the pool is starved");
                Assert.DoesNotContain(requests, c => c.IsCompleted); // all still waiting for memory

                reclaimer.Open(); // memory returns
                Assert.True(Task.WaitAll(requests, TimeSpan.FromSeconds(60)), "not every request completed once memory returned");
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

        Assert.Equal(0, reclaimer.Held); // the independent ledger: every cached byte was freed for the requests
        Assert.Equal(Total, held(budget));
        foreach (Task<Action> completed in requests)
        {
            (await completed)();
        }

        TestBudgets.AssertEmpty(budget);
    }
}
