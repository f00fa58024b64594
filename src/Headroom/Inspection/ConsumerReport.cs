namespace Headroom;

/// <summary>A registered consumer, as <see cref="MemoryBudget.Inspect"/> found it.</summary>
/// <param name="Name">Its name.</param>
/// <param name="Budget">The budget it is registered on.</param>
/// <param name="Charged">The bytes charged on its flows, net of their uncharges.</param>
/// <param name="Reserved">The bytes its live reservations hold.</param>
/// <param name="OomScoreAdj">Its OOM score adjustment.</param>
/// <param name="Killed">Whether the OOM killer chose it.</param>
/// <param name="StalledCharges">How many of its charges are parked now.</param>
public sealed record ConsumerReport(string Name, string Budget, long Charged, long Reserved, int OomScoreAdj, bool Killed, int StalledCharges)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"{Name} on '{Budget}': charged {Charged}, reserved {Reserved}, adj {OomScoreAdj}{(Killed ? ", killed" : string.Empty)}{(StalledCharges > 0 ? $", {StalledCharges} stalled" : string.Empty)}";
}
