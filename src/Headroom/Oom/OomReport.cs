using System.Globalization;
using System.Text;

namespace Headroom;

/// <summary>One consumer as the OOM killer saw it.</summary>
/// <param name="Name">The consumer's name.</param>
/// <param name="Budget">The budget it is registered on.</param>
/// <param name="Charged">Bytes charged while it was current, net of its uncharges.</param>
/// <param name="Reserved">Bytes its live reservations still hold (reapable).</param>
/// <param name="OomScoreAdj">Its adjustment, −1000 (never) to 1000.</param>
/// <param name="Badness">Charged + reserved + adj × capacity / 1000.</param>
/// <param name="Eligible">False when immune (adj −1000), already killed, or given up on.</param>
public sealed record OomCandidate(string Name, string Budget, long Charged, long Reserved, int OomScoreAdj, long Badness, bool Eligible)
{
    internal MemoryConsumer? Consumer { get; init; }
}

/// <summary>What the OOM killer saw and did (semantics §7): every consumer with its usage and score, the victim and why.</summary>
public sealed class OomReport
{
    internal OomReport(DateTimeOffset time, MemoryBudgetSnapshot shortBudget, long requestedBytes, OomPolicy policy, IReadOnlyList<OomCandidate> candidates, OomCandidate? victim, string reason, bool dryRun)
    {
        Time = time;
        ShortBudget = shortBudget;
        RequestedBytes = requestedBytes;
        Policy = policy;
        Candidates = candidates;
        Victim = victim;
        Reason = reason;
        DryRun = dryRun;
    }

    /// <summary>Gets when the report was made, by the tree's clock.</summary>
    public DateTimeOffset Time { get; }

    /// <summary>Gets the counters of the budget that was out of memory; candidates come from its subtree.</summary>
    public MemoryBudgetSnapshot ShortBudget { get; }

    /// <summary>Gets the size of the request that found no progress possible (0 for a dry run asked without one).</summary>
    public long RequestedBytes { get; }

    /// <summary>Gets the policy that chose.</summary>
    public OomPolicy Policy { get; }

    /// <summary>Gets every consumer of the subtree, highest badness first.</summary>
    public IReadOnlyList<OomCandidate> Candidates { get; }

    /// <summary>Gets the victim, or null when nobody was (or would be) killed.</summary>
    public OomCandidate? Victim { get; }

    /// <summary>Gets why the victim was chosen, or why nobody was.</summary>
    public string Reason { get; }

    /// <summary>Gets whether this answers "who would be chosen now" without killing anyone.</summary>
    public bool DryRun { get; }

    /// <inheritdoc />
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{(DryRun ? "OOM dry run" : "Out of memory")} at budget [{ShortBudget}] for {RequestedBytes} bytes, policy {Policy}: {Reason}");
        foreach (OomCandidate c in Candidates)
        {
            text.AppendLine().Append(CultureInfo.InvariantCulture,
                $"  {(c == Victim ? '*' : ' ')} {c.Name} on '{c.Budget}': charged {c.Charged}, reserved {c.Reserved}, adj {c.OomScoreAdj}, badness {c.Badness}{(c.Eligible ? string.Empty : " (not eligible)")}");
        }

        return text.ToString();
    }
}
