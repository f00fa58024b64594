using Headroom.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Headroom;

/// <summary>
/// The OOM killer of one budget tree (semantics §7, Linux's oom_kill.c with the OOM reaper). When a NoFail charge or a
/// reservation finds reclaim without progress, it chooses one victim in the short subtree and kills it through the
/// <see cref="OomReaper"/> (reservations back at once; cancellation and reapable memory on workers of their own), so that
/// a victim blocked on a lock the allocator holds cannot deadlock the tree (the article's case). One victim at a time per
/// subtree (<see cref="UnwindingVictims"/>); one that has not released its memory by the kill timeout is given up on, and
/// requests still waiting come back to choose the next (<c>MemoryBudget.KillOrWait</c>). Lock order: <see cref="LockOrder"/>.
/// </summary>
internal sealed class OomKiller
{
    private readonly object _sync = new();
    private readonly BudgetTree _tree;
    private readonly ILogger _logger;
    private readonly OomPolicy _policy;
    private readonly Func<IReadOnlyList<OomCandidate>, OomCandidate?>? _selector;
    private readonly TimeSpan _killTimeout;
    private MemoryConsumer[] _consumers = [];
    private long _registrations;
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
        _policy = options.Policy;
        _selector = options.Selector;
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

    private bool Panics => _selector is null && _policy == OomPolicy.Panic;

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

    internal MemoryConsumer Register(MemoryBudget budget, string name, int oomScoreAdj, CancellationTokenSource? cancellation, Action? kill)
    {
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Killer, _sync);
            var consumer = new MemoryConsumer(budget, name, oomScoreAdj, cancellation, kill, _registrations++);
            _consumers = [.. _consumers, consumer];
            return consumer;
        }
    }

    internal void Unregister(MemoryConsumer consumer)
    {
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Killer, _sync);
            _consumers = [.. _consumers.Where(c => c != consumer)];
        }

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

            report = Choose(level, bytes, dryRun: false);
            if (Panics)
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
            return Choose(level, bytes, dryRun: true);
        }
    }

    private OomReport Choose(MemoryBudget level, long bytes, bool dryRun)
    {
        var candidates = new List<OomCandidate>();
        foreach (MemoryConsumer c in _consumers)
        {
            if (!c.Budget.IsWithin(level))
            {
                continue;
            }

            long charged = c.Charged, reserved = c.Reserved;
            long badness = Badness.Of(charged, reserved, c.OomScoreAdj, level.Capacity);
            bool eligible = c.OomScoreAdj != MemoryConsumer.NeverKill && !c.IsKilled && !c.GivenUp && !c.IsDisposed;
            candidates.Add(new OomCandidate(c.Name, c.Budget.Name, charged, reserved, c.OomScoreAdj, badness, eligible) { Consumer = c });
        }

        candidates.Sort(static (a, b) => b.Badness.CompareTo(a.Badness));
        OomCandidate[] eligibles = [.. candidates.Where(c => c.Eligible)];
        OomCandidate? victim;
        string reason;
        if (eligibles.Length == 0)
        {
            victim = null;
            reason = (candidates.Count == 0 ? "no consumer is registered in this subtree" : "every consumer is immune, killed or given up on")
                + (Panics ? "; the policy is to panic" : string.Empty);
        }
        else if (_selector is not null)
        {
            (victim, reason) = Select(eligibles);
        }
        else if (_policy == OomPolicy.NewestFirst)
        {
            victim = eligibles.MaxBy(c => c.Consumer!.Order);
            reason = $"'{victim!.Name}' is the newest eligible consumer";
        }
        else
        {
            victim = eligibles[0];
            reason = $"'{victim.Name}' has the highest badness ({victim.Badness})" + (Panics ? "; the policy is to panic" : string.Empty);
        }

        return new OomReport(_tree.TimeProvider.GetUtcNow(), level.GetSnapshot(), bytes, _policy, candidates, victim, reason, dryRun);
    }

    /// <summary>The caller's selector, kept from failing the charge that asked: a selector that throws or names a non-candidate chooses nobody.</summary>
    private (OomCandidate? Victim, string Reason) Select(OomCandidate[] eligibles)
    {
        OomCandidate? victim;
        try
        {
            victim = _selector!(eligibles);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.KillFailed(_logger, e, "(selector)");
            return (null, $"the selector threw {e.GetType().Name}: nobody is killed");
        }

        if (victim is null)
        {
            return (null, "the selector chose nobody");
        }

        // Matched by identity, not by reference or value: a selector may return a copy (`c with { ... }`) of a candidate.
        OomCandidate? chosen = victim.Consumer is { } consumer
            ? Array.Find(eligibles, c => c.Consumer == consumer)
            : eligibles.Count(c => c.Name == victim.Name && c.Budget == victim.Budget) == 1 ? Array.Find(eligibles, c => c.Name == victim.Name && c.Budget == victim.Budget) : null;
        return chosen is not null ? (chosen, $"the selector chose '{chosen.Name}'")
            : (null, $"the selector returned '{victim.Name}', which is not one of the eligible candidates: nobody is killed");
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
