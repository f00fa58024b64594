using Headroom.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Headroom;

/// <summary>
/// The OOM killer of one budget tree (semantics §7, Linux's oom_kill.c with the OOM reaper). When a NoFail charge or a
/// reservation finds reclaim without progress, it chooses one victim in the short subtree, cancels it, and reaps its
/// reservations and reapable memory at once, so that a victim blocked on a lock the allocator holds cannot deadlock
/// the tree (the article's case). One victim at a time; one that has not released its memory by the kill timeout is
/// given up on, and the next may be chosen.
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
    private MemoryConsumer? _victim;
    private ITimer? _timer;
    private long _lastNobody;
    private bool _disposed;

    internal OomKiller(BudgetTree tree, ILogger logger, OomOptions options)
    {
        _tree = tree;
        _logger = logger;
        _policy = options.Policy;
        _selector = options.Selector;
        _killTimeout = options.KillTimeout;
    }

    /// <summary>Gets the killer's lock: held while it takes its last look, chooses and marks a victim.</summary>
    internal object Sync => _sync;

    /// <summary>Raised after each kill (and each panic), outside every lock.</summary>
    internal event EventHandler<OomReport>? Reported;

    /// <summary>What <see cref="OomPolicy.Panic"/> does; a seam so that tests need not end their process.</summary>
    internal Action<string> Panic { get; set; } = message => Environment.FailFast(message);

    private bool Panics => _selector is null && _policy == OomPolicy.Panic;

    /// <summary>The victim being unwound, if any.</summary>
    internal MemoryConsumer? Victim
    {
        get
        {
            lock (_sync)
            {
                LockOrder.Entered(LockLevel.Killer, _sync);
                return _victim;
            }
        }
    }

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

    /// <summary>The victim gave its memory back (or ended): the killer may choose again.</summary>
    internal void Released(MemoryConsumer consumer)
    {
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Killer, _sync);
            if (_victim == consumer)
            {
                _victim = null;
                _timer?.Dispose();
                _timer = null;
            }
        }
    }

    /// <summary>
    /// A request of <paramref name="bytes"/> found no progress possible at <paramref name="level"/>. Under the killer's
    /// lock it first tries the request once more (<paramref name="tryNow"/>): memory may have come back since its last
    /// refusal, and then nobody dies (Linux retries under its oom_lock too). Otherwise it chooses, kills and reaps.
    /// </summary>
    internal OomOutcome OutOfMemory(MemoryBudget level, long bytes, Func<bool> tryNow)
    {
        OomReport report;
        MemoryConsumer? victim = null;
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Killer, _sync);
            if (tryNow())
            {
                return OomOutcome.Granted;
            }

            if (_victim is not null || _disposed)
            {
                return OomOutcome.NoKill; // still unwinding, not yet given up on: no second victim (Linux aborts its scan too)
            }

            report = Choose(level, bytes, dryRun: false);
            if (report.Victim?.Consumer is not { } chosen)
            {
                if (report.Candidates.Count > 0)
                {
                    LogNobody(report); // with no consumer at all the killer is not in play; the canary reports the stall
                }

                return OomOutcome.NoKill;
            }

            if (!Panics)
            {
                victim = chosen;
                victim.MarkKilled();
                _victim = victim;
                _timer = Detached.Start(() => _tree.TimeProvider.CreateTimer(static state => ((OomKiller)state!).KillTimedOut(), this, _killTimeout, Timeout.InfiniteTimeSpan));
            }
        }

        if (victim is null)
        {
            Publish(report);
            Panic(report.ToString());
            return OomOutcome.NoKill;
        }

        // Kill and reap first: user code (the report's handlers, the logger) runs only once the memory is on its way back.
        try
        {
            victim.Cancel();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.KillFailed(_logger, e, victim.Name);
        }

        victim.Reap(e => Log.KillFailed(_logger, e, victim.Name));
        if (victim.Charged <= 0)
        {
            Released(victim); // all it held was reapable: it is done unwinding as far as memory goes
        }

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
            _timer?.Dispose();
            _timer = null;
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
            long badness = Math.Max(0, charged) + reserved + (c.OomScoreAdj * level.Capacity / 1000);
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
            reason = candidates.Count == 0 ? "no consumer is registered in this subtree" : "every consumer is immune, killed or given up on";
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

        return victim is null ? (null, "the selector chose nobody")
            : eligibles.Contains(victim) ? (victim, $"the selector chose '{victim.Name}'")
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

    /// <summary>The victim did not release its memory in time: give up on it, and let the stalled choose again.</summary>
    private void KillTimedOut()
    {
        MemoryConsumer? given;
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Killer, _sync);
            given = _victim;
            if (given is null)
            {
                return;
            }

            given.GivenUp = true;
            _victim = null;
            _timer?.Dispose();
            _timer = null;
        }

        Log.VictimGivenUp(_logger, given.Name, _killTimeout, given.Charged);
        Waiter? oldest;
        lock (_tree.Sync)
        {
            LockOrder.Entered(LockLevel.Tree, _tree.Sync);
            oldest = _tree.ByAge.First?.Value;
        }

        if (oldest?.QueuedAt is { } level)
        {
            try
            {
                OutOfMemory(level, oldest.Bytes, static () => false); // the waiter is tried by every release; no try here
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Log.KillFailed(_logger, e, "(after a kill timeout)"); // a timer callback must not throw
            }
        }
    }

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
