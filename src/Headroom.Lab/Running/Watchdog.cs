using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Headroom.Lab.Running;

/// <summary>
/// Declares a stall when no operation of the run completes for <c>stallAfter</c>: it writes who was blocked on what,
/// from the library's own state (every watched budget's counters, the OOM killer's dry run) and the scenario's own
/// word on its threads, then cancels the run so that its threads unwind.
/// </summary>
internal sealed class Watchdog
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(25);
    private readonly PolicyRun _run;
    private readonly TimeSpan _stallAfter;
    private readonly CancellationTokenSource _stop;

    public Watchdog(PolicyRun run, TimeSpan stallAfter, CancellationTokenSource stop)
    {
        _run = run;
        _stallAfter = stallAfter;
        _stop = stop;
    }

    /// <summary>Watches until <paramref name="done"/> fires (the run ended) or a stall is declared.</summary>
    public async Task WatchAsync(CancellationToken done)
    {
        long seen = _run.Operations;
        long since = Stopwatch.GetTimestamp();
        using var timer = new PeriodicTimer(Tick);
        try
        {
            while (await timer.WaitForNextTickAsync(done).ConfigureAwait(false))
            {
                long now = _run.Operations;
                if (now != seen)
                {
                    seen = now;
                    since = Stopwatch.GetTimestamp();
                    continue;
                }

                TimeSpan quiet = Stopwatch.GetElapsedTime(since);
                if (quiet >= _stallAfter && !_stop.IsCancellationRequested)
                {
                    _run.Stalled(Describe(_run, quiet));
                    await _stop.CancelAsync().ConfigureAwait(false);
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (done.IsCancellationRequested)
        {
        }
    }

    /// <summary>Who was blocked on what: the budgets' counters, the OOM killer's view, the threads' own word, the library's last messages.</summary>
    internal static string Describe(PolicyRun run, TimeSpan quiet)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"No operation completed for {quiet.TotalSeconds:F1} s (after {run.Operations} operations).");
        foreach (MemoryBudget budget in run.Watched.OrderBy(b => b.Name, StringComparer.Ordinal))
        {
            text.AppendLine().Append(CultureInfo.InvariantCulture, $"Budget {budget.GetSnapshot()}");
            if (budget.Parent is null && !budget.IsDisposed)
            {
                try
                {
                    text.AppendLine().Append(budget.DryRunOom());
                }
                catch (ObjectDisposedException)
                {
                    // disposed between the check and the dry run: its counters above are what there is
                }
            }
        }

        foreach (KeyValuePair<string, string> activity in run.Activities.OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            text.AppendLine().Append(CultureInfo.InvariantCulture, $"{activity.Key}: {activity.Value}");
        }

        foreach (string message in run.Logger.Messages)
        {
            text.AppendLine().Append("log: ").Append(message);
        }

        return text.ToString();
    }
}
