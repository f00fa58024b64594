using System.Globalization;
using System.Text;

namespace Headroom;

/// <summary>
/// Pressure stall information of one budget at one instant (<see cref="MemoryPressure.Read"/>): Headroom's own figures,
/// and for the process budget the kernel's beside them.
/// </summary>
/// <param name="Budget">The budget's name.</param>
/// <param name="Time">When it was read, by the tree's clock.</param>
/// <param name="Some">The share of time in which at least one charge of the budget's subtree was stalled.</param>
/// <param name="Full">The share of time in which every registered consumer of the subtree was stalled (0 while none is registered).</param>
/// <param name="Consumers">The consumers registered in the subtree: what "full" is measured over.</param>
/// <param name="StalledWaiters">The charges and reservations of the subtree parked at that instant.</param>
/// <param name="SystemPressure">The machine's <c>/proc/pressure/memory</c>, for the process budget; <see langword="null"/> where it was not read or does not exist (see <paramref name="Unavailable"/>).</param>
/// <param name="GroupPressure">The process's cgroup <c>memory.pressure</c>, for the process budget; <see langword="null"/> where it was not read or does not exist.</param>
/// <param name="Unavailable">What was not read, each with its reason.</param>
public sealed record PressureReading(
    string Budget,
    DateTimeOffset Time,
    StallShare Some,
    StallShare Full,
    int Consumers,
    int StalledWaiters,
    KernelPressure? SystemPressure,
    KernelPressure? GroupPressure,
    IReadOnlyList<string> Unavailable)
{
    /// <summary>Formats the reading as lines: Headroom's some and full, then the kernel's, then what was not read.</summary>
    /// <returns>The text.</returns>
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"pressure of '{Budget}' ({StalledWaiters} stalled now, {Consumers} consumer(s)):").AppendLine();
        text.Append(CultureInfo.InvariantCulture, $"  some {Some}").AppendLine();
        text.Append(CultureInfo.InvariantCulture, $"  full {Full}");
        if (SystemPressure is { } system)
        {
            text.AppendLine().Append(CultureInfo.InvariantCulture, $"  kernel {system}");
        }

        if (GroupPressure is { } group)
        {
            text.AppendLine().Append(CultureInfo.InvariantCulture, $"  cgroup {group}");
        }

        foreach (string missing in Unavailable)
        {
            text.AppendLine().Append(CultureInfo.InvariantCulture, $"  not read: {missing}");
        }

        return text.ToString();
    }
}
