using System.Globalization;

namespace Headroom;

/// <summary>A charge or reservation parked in a wait queue, as <see cref="MemoryBudget.Inspect"/> found it.</summary>
/// <param name="Budget">The budget it charges.</param>
/// <param name="QueuedAt">The level whose queue holds it: the level that refused it last (the budget or an ancestor).</param>
/// <param name="Bytes">The size it waits for.</param>
/// <param name="Mode">The caller's allocation mode.</param>
/// <param name="Site">The call site it named, or <see langword="null"/>.</param>
/// <param name="Consumer">The consumer it is attributed to, or <see langword="null"/>.</param>
/// <param name="Waited">How long it has waited so far, by the tree's clock.</param>
/// <param name="Reservation">True for a reservation's admission or growth; false for a charge.</param>
public sealed record WaiterReport(string Budget, string QueuedAt, long Bytes, AllocationMode Mode, string? Site, string? Consumer, TimeSpan Waited, bool Reservation)
{
    /// <inheritdoc/>
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"{(Reservation ? "reservation" : "charge")} of {Bytes} bytes on '{Budget}' (queued at '{QueuedAt}'), {Mode}, site {Site ?? "-"}, consumer {Consumer ?? "-"}, waiting {Waited.TotalMilliseconds:0.###} ms");
}
