using System.Diagnostics;
using Headroom.Lab.Scenarios;

namespace Headroom.Lab.Running;

/// <summary>What one run of one (scenario, variant, policy) left behind: the run's records and the runner's own measurements.</summary>
internal sealed record RunOutcome(
    PolicyRun Run,
    TimeSpan Elapsed,
    TimeSpan CpuTime,
    bool DeadlineReached,
    string? Error,
    IReadOnlyList<string> ThreadsLeftRunning,
    IReadOnlyList<BudgetSample> Samples,
    long UsedAtEnd,
    long ReservedAtEnd)
{
    /// <summary>The policy's work ended by itself.</summary>
    public bool Completed => !Run.IsStalled && !DeadlineReached && Error is null && ThreadsLeftRunning.Count == 0;
}

/// <summary>What the live display shows: the run in progress.</summary>
internal sealed class LiveState
{
    private PolicyRun? _current;
    private long _startedAt;

    public PolicyRun? Current => Volatile.Read(ref _current);

    public TimeSpan Elapsed => _current is null ? TimeSpan.Zero : Stopwatch.GetElapsedTime(Volatile.Read(ref _startedAt));

    public int Done { get; set; }

    public int Total { get; set; }

    internal void Begin(PolicyRun run)
    {
        Volatile.Write(ref _startedAt, Stopwatch.GetTimestamp());
        Volatile.Write(ref _current, run);
    }

    internal void End() => Volatile.Write(ref _current, null);
}

/// <summary>
/// Runs one (scenario, variant, policy) with its watchdog, its deadline and its sampler, and measures process CPU
/// time across it. Every run ends: a stall is declared and unwound, a run past its deadline is cancelled, and a
/// scenario that does not return after that is reported with the threads it left, never waited for forever.
/// </summary>
internal static class PolicyRunner
{
    /// <summary>How long a cancelled scenario has to end its threads before the runner gives up on it and says so.</summary>
    private static readonly TimeSpan UnwindGrace = TimeSpan.FromSeconds(10);

    /// <summary>How long a run may take before it is cancelled: its duration, and as much again (2 s at least) for starting and ending.</summary>
    public static TimeSpan Deadline(LabSettings settings) =>
        settings.Duration + TimeSpan.FromSeconds(Math.Max(2, settings.Duration.TotalSeconds));

    public static async Task<RunOutcome> RunAsync(IScenario scenario, string? variant, string policy, LabSettings settings, LiveState? live)
    {
        var run = new PolicyRun(scenario.Name, variant, policy, settings);
        using var stop = new CancellationTokenSource();
        using var done = new CancellationTokenSource();
        var sampler = new Sampler(run);
        var watchdog = new Watchdog(run, scenario.StallAfter, stop);
        TimeSpan deadline = Deadline(settings);
        live?.Begin(run);

        using var process = Process.GetCurrentProcess();
        TimeSpan cpuBefore = process.TotalProcessorTime;
        long started = Stopwatch.GetTimestamp();
        Task sampling = Task.Run(() => sampler.SampleAsync(done.Token), CancellationToken.None);
        Task watching = Task.Run(() => watchdog.WatchAsync(done.Token), CancellationToken.None);
        Task body = Task.Run(() => scenario.RunAsync(run, stop.Token), CancellationToken.None);

        bool deadlineReached = false;
        string? error = null;
        var left = new List<string>();
        using (var deadlineTimer = new CancellationTokenSource(deadline))
        {
            try
            {
                await body.WaitAsync(deadlineTimer.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (deadlineTimer.IsCancellationRequested && !body.IsCompleted)
            {
                deadlineReached = !run.IsStalled;
                await stop.CancelAsync().ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // the scenario let its token's cancellation out: a stall or the deadline, already recorded
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                error = $"{e.GetType().Name}: {e.Message}";
            }
        }

        if (!body.IsCompleted)
        {
            try
            {
                await body.WaitAsync(UnwindGrace).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                left.Add($"{scenario.Name}/{policy}: did not return within {UnwindGrace.TotalSeconds:F0} s of its cancellation");
            }
            catch (Exception e) when (e is OperationCanceledException or MemoryAllocationException or ObjectDisposedException)
            {
                // the unwinding of a cancelled run
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                error ??= $"{e.GetType().Name}: {e.Message}";
            }
        }

        TimeSpan elapsed = Stopwatch.GetElapsedTime(started);
        TimeSpan cpu = process.TotalProcessorTime - cpuBefore;
        await done.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(sampling, watching).ConfigureAwait(false);
        live?.End();

        long usedAtEnd = 0, reservedAtEnd = 0;
        foreach (MemoryBudget budget in run.Watched)
        {
            budget.TrimParked(); // parked buffers are the arena's reusable memory, not the run's: drained before the count
            usedAtEnd += budget.Used;
            reservedAtEnd += budget.Reserved;
        }

        return new RunOutcome(run, elapsed, cpu, deadlineReached, error, left, sampler.Samples, usedAtEnd, reservedAtEnd);
    }
}
