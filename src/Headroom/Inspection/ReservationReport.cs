namespace Headroom;

/// <summary>A live reservation, as <see cref="MemoryBudget.Inspect"/> found it.</summary>
/// <param name="Budget">The budget it reserves at (and at every ancestor).</param>
/// <param name="Mode">How charges inside it draw from it.</param>
/// <param name="Amount">The bytes reserved, grown and shrunk included.</param>
/// <param name="Drawn">The bytes charges drew from it.</param>
/// <param name="Remaining">The bytes it still holds: what disposing it gives back.</param>
/// <param name="Consumer">The consumer whose flow made it, or <see langword="null"/>.</param>
public sealed record ReservationReport(string Budget, ReservationMode Mode, long Amount, long Drawn, long Remaining, string? Consumer)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Mode} reservation on '{Budget}': amount {Amount}, drawn {Drawn}, remaining {Remaining}, consumer {Consumer ?? "-"}";
}
