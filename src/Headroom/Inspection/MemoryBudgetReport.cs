using System.Globalization;
using System.Text;

namespace Headroom;

/// <summary>
/// Everything one budget can tell about itself at one moment (<see cref="MemoryBudget.Inspect"/>): its counters, who
/// waits, which reservations are held, its consumers, reclaimers and children, the tree's last OOM reports and its
/// pressure stall information. <see cref="ToString"/> prints it; <see cref="HeadroomJsonContext"/> serialises it.
/// </summary>
/// <remarks>
/// The parts are read one after another, each under the lock that guards it (the waiters and consumers under the
/// tree's, which is held only to copy them), so they may come from instants a few instructions apart.
/// </remarks>
/// <param name="Budget">The budget's name.</param>
/// <param name="Time">When it was taken, by the tree's clock.</param>
/// <param name="Counters">The budget's counters (<see cref="MemoryBudget.GetSnapshot"/>): stocked and parked bytes included.</param>
/// <param name="Children">The counters of its children, in creation order.</param>
/// <param name="Waiters">The charges and reservations of its subtree parked in a wait queue, oldest first.</param>
/// <param name="Reservations">The live reservations of its subtree.</param>
/// <param name="Consumers">The consumers registered on it or below it, in registration order.</param>
/// <param name="Reclaimers">The reclaimers registered on it or below it.</param>
/// <param name="OomReports">The last reports of the tree's OOM killer, oldest first (at most eight).</param>
/// <param name="Pressure">Its pressure stall information.</param>
public sealed record MemoryBudgetReport(
    string Budget,
    DateTimeOffset Time,
    MemoryBudgetSnapshot Counters,
    IReadOnlyList<MemoryBudgetSnapshot> Children,
    IReadOnlyList<WaiterReport> Waiters,
    IReadOnlyList<ReservationReport> Reservations,
    IReadOnlyList<ConsumerReport> Consumers,
    IReadOnlyList<ReclaimerReport> Reclaimers,
    IReadOnlyList<OomSummary> OomReports,
    PressureReading Pressure)
{
    /// <summary>Formats the report as indented lines, one section per part; empty parts say "none".</summary>
    /// <returns>The text.</returns>
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"budget '{Budget}' at {Time:O}").AppendLine();
        text.Append(CultureInfo.InvariantCulture, $"  {Counters}, parked {Counters.Parked}").AppendLine();
        Section(text, "children", Children);
        Section(text, "waiters", Waiters);
        Section(text, "reservations", Reservations);
        Section(text, "consumers", Consumers);
        Section(text, "reclaimers", Reclaimers);
        Section(text, "OOM reports", OomReports);
        foreach (string line in Pressure.ToString().Split(Environment.NewLine))
        {
            text.Append("  ").Append(line).AppendLine();
        }

        return text.ToString().TrimEnd();
    }

    private static void Section<T>(StringBuilder text, string title, IReadOnlyList<T> items)
    {
        text.Append(CultureInfo.InvariantCulture, $"  {title}: {(items.Count == 0 ? "none" : items.Count.ToString(CultureInfo.InvariantCulture))}").AppendLine();
        foreach (T item in items)
        {
            text.Append("    ").Append(item).AppendLine();
        }
    }
}
