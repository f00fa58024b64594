using System.Globalization;
using System.Text;
using Headroom.Lab.Running;
using Headroom.Lab.Scenarios.Transactions.Policies;

namespace Headroom.Lab.Scenarios.Transactions;

/// <summary>
/// Scenario 4, the XFS debate: worker threads run journaled transactions, each needing a random number of page
/// buffers up to a known worst case, against a budget shared with a page cache over a real file (clean pages cheap to
/// drop, dirty pages written and fsync'd first). Each policy is the real code path it names; the same seed gives every
/// policy the same transactions. Ample memory asks about overhead; tight memory about progress.
/// </summary>
internal sealed class TransactionsScenario : IScenario
{
    /// <summary>How long transactions in progress may take to finish after the run's duration before they are cancelled (and the run reported as stalled).</summary>
    internal static readonly TimeSpan Grace = TimeSpan.FromSeconds(2);

    /// <summary>Linux's flusher threads wake every few seconds; scaled to the lab's runs of seconds.</summary>
    private static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>XFS warns after 100 retries of 20 ms: the budget's canary gets the same 2 s, so the two canaries compare.</summary>
    private static readonly TimeSpan CanaryInterval = TimeSpan.FromSeconds(2);

    /// <summary>Each worker times one charge (<see cref="TransactionFigures.ChargeNsPerCall"/>) before every this many transactions.</summary>
    private const int ChargeSampleInterval = 4;

    /// <summary>How long each (variant, policy) runs, unrecorded, in the process's warm-up.</summary>
    private static readonly TimeSpan WarmUpEach = TimeSpan.FromMilliseconds(200);

    /// <summary>1 once a call of this process has started the warm-up.</summary>
    private static int s_warmedUp;

    private readonly Action<PolicyRun, int, TransactionShape>? _observe;
    private readonly bool _warmUp;
    private int _liveWorkers;

    public TransactionsScenario()
        : this(observe: null, warmUp: true)
    {
    }

    /// <summary>
    /// For tests: <paramref name="observe"/> sees every transaction a worker begins, before any policy does;
    /// <paramref name="warmUp"/> false skips the process's warm-up (tests check behaviour, not speed).
    /// </summary>
    internal TransactionsScenario(Action<PolicyRun, int, TransactionShape>? observe, bool warmUp)
    {
        _observe = observe;
        _warmUp = warmUp;
    }

    public string Name => "transactions";

    public string Title => "Transactions: when failure is not an option (the XFS debate)";

    public string Why =>
        "A filesystem transaction cannot easily undo itself halfway, so its memory must not fail midway. Worker threads run " +
        "such transactions against a budget shared with a page cache whose dirty pages must be written to disk before they " +
        "can be freed, and each policy (looping, waiting, preallocating, pools, reservations, rolling back, and the BCL's own " +
        "tools) is measured for overhead when memory is ample and for progress when it is tight.";

    public IReadOnlyList<string> Variants { get; } = [TransactionSizing.Ample, TransactionSizing.Tight];

    public IReadOnlyList<string> Policies => TransactionPolicy.Names;

    /// <summary>Workers running now; zero whenever no run is in progress.</summary>
    internal int LiveWorkers => Volatile.Read(ref _liveWorkers);

    public async Task RunAsync(PolicyRun run, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(run);

        if (_warmUp)
        {
            await WarmUpAsync(run.Settings, cancellationToken).ConfigureAwait(false);
        }

        await RunOnceAsync(run, observe: true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Warms the process up, once: every (variant, policy) runs briefly, recorded nowhere. The first measured run of a
    /// process would otherwise pay for it (code compiled, the GC's budgets and the native heap grown and faulted in,
    /// threads created): measured, the policies run first were several times slower in ample memory than the same
    /// policies run again later in the same process. <see cref="RunAsync"/> calls it; a runner that times RunAsync
    /// should call it before it starts the clock (it returns at once after the first call).
    /// </summary>
    public async Task WarmUpAsync(LabSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (Interlocked.Exchange(ref s_warmedUp, 1) != 0)
        {
            return;
        }

        foreach (string variant in Variants)
        {
            foreach (string policy in Policies)
            {
                var scratch = new PolicyRun(Name, variant, policy, settings with { Duration = WarmUpEach });
                await RunOnceAsync(scratch, observe: false, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task RunOnceAsync(PolicyRun run, bool observe, CancellationToken cancellationToken)
    {
        TransactionSizing sizing = TransactionSizing.For(run.Variant, run.Settings);
        using var budget = new MemoryBudget(new MemoryBudgetOptions
        {
            Name = $"transactions-{run.Variant}",
            Capacity = sizing.Capacity,
            CanaryInterval = CanaryInterval,
            Logger = run.Logger,
        });
        if (TransactionSizing.WorstCaseBytes > budget.Capacity - budget.MinWatermark)
        {
            throw new ArgumentOutOfRangeException(nameof(run), sizing.Capacity,
                $"The transactions scenario needs a capacity that admits one worst case ({TransactionSizing.WorstCaseBytes} bytes) above the min watermark ({budget.MinWatermark} bytes); {sizing.Capacity} does not.");
        }

        run.Watch(budget);
        run.Figure(TransactionFigures.CapacityBytes, sizing.Capacity);
        run.Figure(TransactionFigures.WorstCaseBytes, TransactionSizing.WorstCaseBytes);
        run.Figure(TransactionFigures.Threads, sizing.Threads);

        using var cache = new PageCache(Path.Combine(Path.GetTempPath(), $"headroom-lab-transactions-{Guid.NewGuid():N}.dat"));
        var fs = new Filesystem(run, budget, cache, sizing);
        using IDisposable cleanPages = budget.RegisterReclaimer(cache.CleanPages, new ReclaimerOptions
        {
            Domain = PageCache.CleanDomain,
            Cost = 1,
            Timeout = Timeout.InfiniteTimeSpan, // in the caller: a call in flight with a finite timeout makes the reclaimer ineligible for everyone else
        });
        using IDisposable dirtyPages = budget.RegisterReclaimer(cache.DirtyPages, new ReclaimerOptions
        {
            Domain = PageCache.FsDomain,
            Cost = ReclaimerOptions.DefaultCost,
            DoesIo = true,
            Timeout = Timeout.InfiniteTimeSpan, // its waits end with the run's token; its I/O is bounded
        });

        string? stall = null;
        bool quiet;
        TransactionPolicy policy = TransactionPolicy.Create(run.Policy, fs);
        try
        {
            if (policy is ReservationPolicy reservations)
            {
                (double reserveNs, double chargeNs) = await ReservationCost.MeasureAsync(TransactionSizing.WorstCaseBytes, reservations.Mode).ConfigureAwait(false);
                run.Figure(TransactionFigures.ReserveDisposeNs, reserveNs);
                run.Figure(TransactionFigures.ChargeUnchargeNs, chargeNs);
                run.Figure(TransactionFigures.ReserveToChargeRatio, chargeNs > 0 ? reserveNs / chargeNs : 0);
            }

            stall = await RunWorkersAsync(fs, policy, observe ? _observe : null, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            cleanPages.Dispose(); // no new reclaim call after this; the calls in flight end below
            dirtyPages.Dispose();
            quiet = await cache.QuiesceAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            run.Figure(TransactionFigures.CachedPagesAtEnd, cache.DropAll());
            policy.Dispose();
            fs.Tally.Publish(run);
            run.Figure(TransactionFigures.PagesWritten, cache.PagesWritten);
            run.Figure(TransactionFigures.Fsyncs, cache.Fsyncs);
            run.Figure(TransactionFigures.CleanPagesDropped, cache.CleanDropped);
            run.Figure(TransactionFigures.DirtyPagesDropped, cache.DirtyDropped);
        }

        if (!quiet)
        {
            throw new InvalidOperationException($"A page-cache reclaim call was still running 10 s after the run ended ({cache.InFlight} in flight).");
        }

        if (stall is not null)
        {
            run.Stalled(stall);
        }

        // Every policy returns every buffer and every reservation: anything left is a leak, a bug of the policy or the library.
        // Returned buffers the arena parked for reuse are still charged (resident memory): the drain gives them back first.
        budget.TrimParked();
        MemoryBudgetSnapshot end = budget.GetSnapshot();
        if (end.Used != 0 || end.Reserved != 0)
        {
            throw new InvalidOperationException($"The {run.Policy} policy ended with memory still held: {end}.");
        }
    }

    /// <summary>Runs the workers for the run's duration; returns a stall report when some could not finish within the grace period after it.</summary>
    private async Task<string?> RunWorkersAsync(Filesystem fs, TransactionPolicy policy, Action<PolicyRun, int, TransactionShape>? observe, CancellationToken cancellationToken)
    {
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(abort.Token);
        stop.CancelAfter(fs.Run.Settings.Duration);
        Task flusher = fs.Cache.FlushAsync(FlushInterval, stop.Token);
        var transactions = new Transaction[fs.Sizing.Threads];
        var ended = new TaskCompletionSource[transactions.Length];
        var threads = new Thread[transactions.Length];
        for (int w = 0; w < threads.Length; w++)
        {
            int worker = w;
            transactions[w] = new Transaction();
            ended[w] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            threads[w] = new Thread(() => Work(fs, policy, observe, transactions[worker], worker, abort, ended[worker], stop.Token))
            {
                IsBackground = true,
                Name = $"transactions worker {worker}",
            };
            threads[w].Start();
        }

        Task all = Task.WhenAll(ended.Select(e => e.Task));
        string? stall = null;
        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // the duration is over, or the run's token fired
        }

        if (!abort.IsCancellationRequested
            && await Task.WhenAny(all, Task.Delay(Grace, abort.Token)).ConfigureAwait(false) != all
            && !abort.IsCancellationRequested) // the run's own token ending the grace period is no stall
        {
            stall = DescribeStall(fs, transactions, policy.State); // before the cancellation rolls them back
            await abort.CancelAsync().ConfigureAwait(false);
        }

        try
        {
            await all.ConfigureAwait(false);
        }
        finally
        {
            await flusher.ConfigureAwait(false);
            foreach (Thread thread in threads)
            {
                thread.Join(); // each has signalled its end: this returns at once
            }
        }

        return stall;
    }

    /// <summary>
    /// A worker thread: one thread per worker, so that the OS shares the cores among them as among a filesystem's
    /// threads (an async loop whose rents complete synchronously would keep a pool thread and starve its peers). A
    /// policy's wait continues on the pool while this thread blocks on it; the policy's waits all take the token.
    /// </summary>
    private void Work(Filesystem fs, TransactionPolicy policy, Action<PolicyRun, int, TransactionShape>? observe, Transaction transaction, int worker, CancellationTokenSource abort, TaskCompletionSource ended, CancellationToken stop)
    {
        Interlocked.Increment(ref _liveWorkers);
        try
        {
            var workload = new TransactionWorkload(fs.Run.NewRandom(worker));
            for (int begun = 0; !stop.IsCancellationRequested; begun++)
            {
                if (begun % ChargeSampleInterval == 0)
                {
                    SampleCharge(fs);
                }

                TransactionShape shape = workload.Next();
                observe?.Invoke(fs.Run, worker, shape);
                fs.Tally.Begun();
                long start = PolicyRun.Start();
                transaction.Begin(shape);
                try
                {
                    while (!Attempt(policy, transaction, abort.Token))
                    {
                        // rolled back after a failure midway: the same transaction again
                    }
                }
                catch (OperationCanceledException) when (abort.IsCancellationRequested)
                {
                    transaction.RollBack();
                    fs.Tally.Abort();
                    break;
                }

                fs.Run.Completed(start);
            }

            ended.SetResult();
        }
        catch (Exception e)
        {
            transaction.RollBack();
            abort.Cancel(); // one worker's bug ends the others too, so that the run ends
            ended.SetException(e);
        }
        finally
        {
            Interlocked.Decrement(ref _liveWorkers);
        }
    }

    private static bool Attempt(TransactionPolicy policy, Transaction transaction, CancellationToken cancellationToken)
    {
        ValueTask<bool> attempt = policy.TryRunAsync(transaction, cancellationToken);
        return attempt.IsCompletedSuccessfully ? attempt.Result : attempt.AsTask().GetAwaiter().GetResult();
    }

    /// <summary>The yardstick for a reservation's cost: one buffer's charge and uncharge on the same budget, when granted at once.</summary>
    private static void SampleCharge(Filesystem fs)
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        if (fs.Budget.TryCharge(TransactionSizing.PageBytes))
        {
            fs.Budget.Uncharge(TransactionSizing.PageBytes);
            fs.Tally.ChargeTook(System.Diagnostics.Stopwatch.GetTimestamp() - start);
        }
    }

    private static string DescribeStall(Filesystem fs, Transaction[] transactions, string policyState)
    {
        (int clean, int dirty) = fs.Cache.Count;
        var report = new StringBuilder();
        report.Append(CultureInfo.InvariantCulture,
            $"transactions/{fs.Run.Variant}/{fs.Run.Policy}: workers still inside a transaction {Grace.TotalSeconds} s after the run's end; ");
        report.Append(CultureInfo.InvariantCulture, $"budget {fs.Budget.GetSnapshot()}; page cache {clean} clean and {dirty} dirty pages{policyState}");
        for (int w = 0; w < transactions.Length; w++)
        {
            Transaction t = transactions[w];
            report.Append(CultureInfo.InvariantCulture, $"; worker {w} holds {t.Held} of {t.Shape.Buffers} buffers (+{t.Spare} preallocated)");
        }

        return report.ToString();
    }
}
