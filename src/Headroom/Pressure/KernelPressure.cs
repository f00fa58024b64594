using Headroom.Cgroups;

namespace Headroom;

/// <summary>The kernel's own pressure stall information from one file: <c>/proc/pressure/memory</c>, or a cgroup v2 group's <c>memory.pressure</c>.</summary>
/// <param name="Path">The file read.</param>
/// <param name="Some">The "some" line: at least one task stalled on memory.</param>
/// <param name="Full">The "full" line (all non-idle tasks stalled at once), or <see langword="null"/> when the file has none.</param>
public sealed record KernelPressure(string Path, StallShare Some, StallShare? Full)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Path}: some {Some}" + (Full is { } full ? $"; full {full}" : string.Empty);

    /// <summary>Reads the files the process's limit was found beside, now; what is missing goes to <paramref name="unavailable"/>.</summary>
    internal static (KernelPressure? System, KernelPressure? Group) Read(ProcessMemoryLimit limit, List<string> unavailable)
    {
        (PressureStall? system, PressureStall? group) = limit.ReadPressure(unavailable);
        return (From(system), From(group));
    }

    private static KernelPressure? From(PressureStall? stall) => stall is null ? null : new KernelPressure(stall.Path, From(stall.Some), stall.Full is { } full ? From(full) : null);

    private static StallShare From(StallLine line) => new(line.Avg10, line.Avg60, line.Avg300, line.TotalMicroseconds > long.MaxValue ? long.MaxValue : (long)line.TotalMicroseconds);
}
