using Headroom.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Headroom;

/// <summary>
/// How the OOM killer chooses (semantics §7, Linux's <c>select_bad_process</c>): the candidates of the short subtree
/// with their badness, the eligible ones, and the victim by the tree's policy or the caller's selector, with the reason.
/// Runs under the killer's lock; the selector is the one piece of user code that does (see <see cref="LockOrder"/>).
/// </summary>
internal sealed class VictimSelection(OomOptions options, ILogger logger, TimeProvider timeProvider)
{
    private readonly OomPolicy _policy = options.Policy;
    private readonly Func<IReadOnlyList<OomCandidate>, OomCandidate?>? _selector = options.Selector;

    /// <summary>Gets whether an OOM ends the process (vm.panic_on_oom): the policy says so and no selector overrides it.</summary>
    internal bool Panics => _selector is null && _policy == OomPolicy.Panic;

    /// <summary>The report of a choice among <paramref name="consumers"/> for a request of <paramref name="bytes"/> refused at <paramref name="level"/>.</summary>
    internal OomReport Choose(MemoryConsumer[] consumers, MemoryBudget level, long bytes, bool dryRun)
    {
        var candidates = new List<OomCandidate>();
        foreach (MemoryConsumer c in consumers)
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

        return new OomReport(timeProvider.GetUtcNow(), level.GetSnapshot(), bytes, _policy, candidates, victim, reason, dryRun);
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
            Log.KillFailed(logger, e, "(selector)");
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
}
