namespace Headroom;

/// <summary>One of the last reports of the tree's OOM killer (<see cref="OomReport"/>), as a plain record for the snapshot and JSON.</summary>
/// <param name="Time">When the killer acted, by the tree's clock.</param>
/// <param name="ShortBudget">The counters of the budget that was out of memory.</param>
/// <param name="RequestedBytes">The request that found no progress possible.</param>
/// <param name="Policy">The policy that chose.</param>
/// <param name="Victim">The victim's name, or <see langword="null"/> when nobody was killed.</param>
/// <param name="Reason">Why the victim was chosen, or why nobody was.</param>
/// <param name="Candidates">Every consumer the killer looked at, highest badness first.</param>
public sealed record OomSummary(DateTimeOffset Time, MemoryBudgetSnapshot ShortBudget, long RequestedBytes, OomPolicy Policy, string? Victim, string Reason, IReadOnlyList<OomCandidate> Candidates)
{
    internal static OomSummary From(OomReport report) =>
        new(report.Time, report.ShortBudget, report.RequestedBytes, report.Policy, report.Victim?.Name, report.Reason, report.Candidates);

    /// <inheritdoc/>
    public override string ToString() => $"{Time:O} OOM at '{ShortBudget.Name}' for {RequestedBytes} bytes ({Policy}): victim {Victim ?? "none"}; {Reason}";
}
