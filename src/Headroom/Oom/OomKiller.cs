using Headroom.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Headroom;

/// <summary>
/// The OOM killer of one budget tree (semantics §7, Linux's oom_kill.c with the OOM reaper). When a NoFail charge or a
/// reservation finds reclaim without progress, it chooses one victim in the short subtree and kills it through the
/// <see cref="OomReaper"/> (reservations back at once; cancellation and reapable memory on workers of their own), so that
/// a victim blocked on a lock the allocator holds cannot deadlock the tree (the article's case). One victim at a time per
/// subtree (<see cref="UnwindingVictims"/>), chosen by <see cref="VictimSelection"/> among the <see cref="ConsumerRegistry"/>; one that has not released its memory by the kill timeout is given up on, and
/// requests still waiting come back to choose the next (<c>MemoryBudget.KillOrWait</c>). Lock order: <see cref="LockOrder"/>.
/// </summary>
internal sealed class OomKiller
{
    private readonly object _sync = new();
    private readonly BudgetTree _tree;
    private readonly ILogger _logger;
    private readonly VictimSelection _selection;
    private readonly TimeSpan _killTimeout;
    private readonly UnwindingVictims _unwinding = new();
    private long _lastNobody;
    private long _grantsInPlace;
    private bool _disposed;

    /// <summary>Completed (and replaced) when a victim released its memory or was given up on; guarded by <see cref="_sync"/>.</summary>
    private TaskCompletionSource _victimEnded = NewSignal();

    internal OomKiller(BudgetTree tree, ILogger logger, OomOptions options)
    {
        _tree = tree;
        _logger = logger;
        _selection = new VictimSelection(options, logger, tree.TimeProvider);
        _killTimeout = options.KillTimeout;
        var reaper = new ReclaimerOptions { Domain = "oom-reaper" };
        reaper.Timeout = reaper.Timeout < _killTimeout ? reaper.Timeout : _killTimeout;
        ReaperOptions = reaper;
    }

    /// <summary>Gets the killer's lock: held while it takes its last look, chooses and marks a victim.</summary>
    internal object Sync => _sync;

    /// <summary>Raised after each kill (and each panic), outside every lock.</summary>
    internal event EventHandler<OomReport>? Reported;

    /// <summary>What <see cref="OomPolicy.Panic"/> does; a seam so that tests need not end their process.</summary>
    internal Action<string> Panic { get; set; } = message => Environment.FailFast(message);

    /// <summary>Gets the tree's consumers, the killer's candidates.</summary>
    internal ConsumerRegistry Consumers { get; } = new();

    /// <summary>The oldest victim still being unwound, if any.</summary>
    internal MemoryConsumer? Victim
    {
        get
        {
            lock (_sync)
            {
                LockOrder.Entered(LockLevel.Killer, _sync);
                return _unwinding.Oldest;
            }
        }
    }

    /// <summary>The oldest victim of <paramref name="level"/>'s subtree still being unwound, if any.</summary>
    internal MemoryConsumer? VictimWithin(MemoryBudget level)
    {
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Killer, _sync);
            return _unwinding.OldestWithin(level);
        }
    }

    /// <summary>Completes when a victim next releases its memory or is given up on.</summary>
    internal Task VictimEnded
    {
        get
        {
            lock (_sync)
            {
                LockOrder.Entered(LockLevel.Killer, _sync);
                return _victimEnded.Task;
            }
        }
    }

    /// <summary>Gets how many waiters were granted by their own visit to the killer (its last try), not by a release: for diagnostics and tests.</summary>
    internal long GrantsInPlace => Volatile.Read(ref _grantsInPlace);

    /// <summary>A waiter's visit to the killer granted it (<c>MemoryBudget.GrantInPlace</c>).</summary>
    internal void GrantedInPlace() => Interlocked.Increment(ref _grantsInPlace);

    /// <summary>A consumer's registration ended: it is no candidate any longer, and no victim once it holds nothing.</summary>
    internal void Unregister(MemoryConsumer consumer)
    {
        Consumers.Unregister(consumer);
        if (consumer.Charged > 0)
        {
            Log.ConsumerEndedHolding(_logger, consumer.Name, consumer.Budget.Name, consumer.Charged);
        }

        Released(consumer);
    }

    /// <summary>The reaper's settings for a victim's reapable memory: a reclaimer's, with its timeout bounded by the kill timeout.</summary>
    internal ReclaimerOptions ReaperOptions { get; }

    /// <summary>After a reap: a victim that holds nothing more is done unwinding as far as memory goes.</summary>
    internal void ReleasedIfEmpty(MemoryConsumer victim)
    {
        if (victim.Charged <= 0)
        {
            Released(victim);
        }
    }

    /// <summary>The victim gave its memory back (or ended): the killer may choose again.</summary>
    internal void Released(MemoryConsumer consumer)
    {
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Killer, _sync);
            if (!_unwinding.Remove(consumer))
            {
                return;
            }

            RaiseVictimEnded();
        }

        _tree.NudgeAll(); // waiters that still do not fit come back to choose again
    }

    /// <summary>
    /// A request of <paramref name="bytes"/> found no progress possible at <paramref name="level"/>. Under the killer's
    /// lock it first tries the request once more (<paramref name="tryNow"/>): memory may have come back since its last
    /// refusal, and then nobody dies (Linux retries under its oom_lock too). Otherwise it chooses, kills and reaps.
    /// </summary>
    /// <param name="level">The level that refused the request: victims are chosen in its subtree.</param>
    /// <param name="bytes">The request's size, for the report.</param>
    /// <param name="tryNow">The last try; true when the request needs nobody killed (granted, or waiting only its turn).</param>
    /// <param name="victimEnded">
    /// Completes when, after this decision, a victim releases its memory or is given up on: a request still waiting then
    /// comes back here (semantics §7: a request that needs two victims gets two, one after the other).
    /// </param>
    internal OomOutcome OutOfMemory(MemoryBudget level, long bytes, Func<bool> tryNow, out Task victimEnded)
    {
        OomReport report;
        MemoryConsumer? victim = null;
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Killer, _sync);
            victimEnded = _victimEnded.Task; // read under the lock that every victim's end takes: no end is missed
            if (tryNow())
            {
                return OomOutcome.Granted;
            }

            if (_disposed || _unwinding.Block(level))
            {
                return OomOutcome.NoKill; // a victim in this subtree still unwinds, not yet given up on: no second one there (Linux aborts its scan too)
            }

            report = _selection.Choose(Consumers.All, level, bytes, dryRun: false);
            if (_selection.Panics)
            {
                // vm.panic_on_oom: the process ends on OOM, whether or not a consumer is eligible (handled below, outside the lock).
            }
            else if (report.Victim?.Consumer is not { } chosen)
            {
                if (report.Candidates.Count > 0)
                {
                    LogNobody(report); // with no consumer at all the killer is not in play; the canary reports the stall
                }

                return OomOutcome.NoKill;
            }
            else
            {
                victim = chosen;
                victim.MarkKilled();
                var state = (Killer: this, Victim: victim);
                _unwinding.Add(victim, Detached.Start(() => _tree.TimeProvider.CreateTimer(
                    static state => (((OomKiller Killer, MemoryConsumer Victim))state!).Killer.KillTimedOut((((OomKiller Killer, MemoryConsumer Victim))state!).Victim),
                    state, _killTimeout, Timeout.InfiniteTimeSpan)));
            }
        }

        if (victim is null)
        {
            Publish(report);
            Panic(report.ToString());
            return OomOutcome.NoKill;
        }

        // Kill and reap first: user code (the report's handlers, the logger) runs only once the memory is on its way back.
        OomReaper.Kill(victim, _logger, static reaped => reaped.Budget.Tree.Oom.ReleasedIfEmpty(reaped));
        ReleasedIfEmpty(victim);
        level.ObserveKill(victim, report.Victim!.Charged, bytes);

        Publish(report);
        return OomOutcome.Killed;
    }

    /// <summary>Stops the kill timer; the tree's root was disposed.</summary>
    internal void Dispose()
    {
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Killer, _sync);
            _disposed = true;
            _unwinding.Clear();
        }
    }

    /// <summary>Who would be chosen now for <paramref name="level"/>, and why, without killing anyone.</summary>
    internal OomReport DryRun(MemoryBudget level, long bytes)
    {
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Killer, _sync);
            return _selection.Choose(Consumers.All, level, bytes, dryRun: true);
        }
    }

    /// <summary>Logs the report and raises the event; a handler that throws is logged, and the kill stands.</summary>
    private void Publish(OomReport report)
    {
        Log.OutOfMemory(_logger, report.ToString());
        try
        {
            Reported?.Invoke(this, report);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.KillFailed(_logger, e, report.Victim?.Name ?? "(none)");
        }
    }

    /// <summary>The victim did not release its memory in time: give up on it; requests still waiting come back to choose again.</summary>
    private void KillTimedOut(MemoryConsumer given)
    {
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Killer, _sync);
            if (!_unwinding.Remove(given))
            {
                return; // it released its memory meanwhile
            }

            given.GivenUp = true;
            RaiseVictimEnded();
        }

        Log.VictimGivenUp(_logger, given.Name, _killTimeout, given.Charged);
        _tree.NudgeAll();
    }

    /// <summary>Marks a victim's end for requests that looked before they queued (the tree's waiters are woken after this lock). Caller holds <see cref="_sync"/>.</summary>
    private void RaiseVictimEnded()
    {
        LockOrder.Held(_sync);
        TaskCompletionSource ended = _victimEnded;
        _victimEnded = NewSignal();
        ended.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private void LogNobody(OomReport report)
    {
        long now = _tree.TimeProvider.GetTimestamp();
        if (_lastNobody == 0 || _tree.TimeProvider.GetElapsedTime(_lastNobody, now) >= _killTimeout)
        {
            _lastNobody = now;
            Log.NothingToKill(_logger, report.ShortBudget.Name, report.RequestedBytes, report.Reason);
        }
    }
}
