using System.Globalization;
using System.Text;
using Headroom.Cgroups;

namespace Headroom;

/// <summary>
/// The memory limit the kernel enforces on this process, found the way the .NET runtime finds it: the process's own
/// cgroup (v2: the smallest <c>memory.max</c> walking up from its group; v1: <c>memory.limit_in_bytes</c>, or
/// <c>hierarchical_memory_limit</c> when the hierarchy is in use), located through <c>/proc/self/mountinfo</c> and
/// <c>/proc/self/cgroup</c> (so a nested group is found, unlike readers of fixed paths), capped by RLIMIT_AS and
/// physical memory; else physical memory. A reading is a snapshot: it does not follow later changes.
/// </summary>
public sealed class ProcessMemoryLimit
{
    private ProcessMemoryLimit(long limitBytes, MemoryLimitSource source, string? cgroupPath, long? usageBytes, string description, IReadOnlyList<string> unavailable)
    {
        LimitBytes = limitBytes;
        Source = source;
        CgroupPath = cgroupPath;
        UsageBytes = usageBytes;
        Description = description;
        Unavailable = unavailable;
    }

    /// <summary>Gets the limit in bytes.</summary>
    public long LimitBytes { get; }

    /// <summary>Gets where the limit came from.</summary>
    public MemoryLimitSource Source { get; }

    /// <summary>Gets the directory of the process's memory cgroup (for example <c>/sys/fs/cgroup/memory/app</c>), or <see langword="null"/> when none was found.</summary>
    public string? CgroupPath { get; }

    /// <summary>
    /// Gets the group's usage when read, as Docker and Kubernetes count it (<c>memory.current − inactive_file</c>, or
    /// <c>memory.usage_in_bytes − total_inactive_file</c>), or <see langword="null"/> when there is no group or it could not be read.
    /// </summary>
    public long? UsageBytes { get; }

    /// <summary>
    /// Gets what was read, in words: for example "cgroup v1 /sys/fs/cgroup/memory/app: memory.limit_in_bytes = 268435456"
    /// or "physical memory: no cgroup limit (…)", followed by the memory pressure files found or missing.
    /// </summary>
    public string Description { get; }

    /// <summary>Gets what was looked for and not found (a missing cgroup, PSI file or field), each with its reason.</summary>
    public IReadOnlyList<string> Unavailable { get; }

    /// <summary>Reads the limit of this process now. Never throws for a missing or unreadable file: see <see cref="Unavailable"/>.</summary>
    /// <returns>The reading.</returns>
    public static ProcessMemoryLimit Read() => From(new CgroupReader().Read());

    /// <inheritdoc/>
    public override string ToString() => Description;

    internal static ProcessMemoryLimit From(CgroupReading reading)
    {
        ArgumentNullException.ThrowIfNull(reading);
        var text = new StringBuilder();
        MemoryLimitSource source;
        long limit;
        string? group = reading.GroupPath is null ? null : $"cgroup v{reading.Version} {reading.GroupPath}";
        if (reading.GroupLimitBytes is not null && reading.EffectiveLimitBytes is { } effective)
        {
            source = reading.Version == 2 ? MemoryLimitSource.CgroupV2 : MemoryLimitSource.CgroupV1;
            limit = Clamp(effective);
            text.Append(CultureInfo.InvariantCulture, $"{group}: {reading.GroupLimitRule}");
            if (effective < reading.GroupLimitBytes)
            {
                text.Append(CultureInfo.InvariantCulture, $", capped at {effective} by {(effective == reading.AddressSpaceLimitBytes ? "RLIMIT_AS" : "physical memory")}");
            }
        }
        else if (reading.EffectiveLimitBytes is { } physical)
        {
            source = MemoryLimitSource.PhysicalMemory;
            limit = Clamp(physical);
            text.Append(CultureInfo.InvariantCulture, $"physical memory: no cgroup limit ({(group is null ? "no memory cgroup found" : $"{group}: {reading.GroupLimitRule}")}); {limit} bytes");
            if (physical < reading.PhysicalMemoryBytes)
            {
                text.Append(" (RLIMIT_AS)");
            }
        }
        else
        {
            source = MemoryLimitSource.Runtime;
            limit = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
            text.Append(CultureInfo.InvariantCulture, $"runtime: GC's total available memory {limit} bytes (neither a cgroup nor /proc/meminfo could be read)");
        }

        if (reading.UsageBytes is { } usage)
        {
            text.Append(CultureInfo.InvariantCulture, $"; usage {usage} ({reading.UsageRule})");
        }

        text.Append("; pressure: ").Append(reading.SystemPressure?.ToString() ?? "no /proc/pressure/memory");
        text.Append("; group pressure: ").Append(reading.GroupPressure?.ToString() ?? "none");
        long? usageBytes = reading.UsageBytes is { } u ? Clamp(u) : null;
        return new ProcessMemoryLimit(limit, source, reading.GroupPath, usageBytes, text.ToString(), reading.Missing)
        {
            PressureRoot = reading.Root,
            GroupPressurePath = reading.GroupPressurePath,
        };
    }

    /// <summary>The root the limit was read below, where the pressure files are read again.</summary>
    internal string PressureRoot { get; private init; } = "/";

    /// <summary>The group's memory.pressure below <see cref="PressureRoot"/>; null without a v2 group.</summary>
    internal string? GroupPressurePath { get; private init; }

    /// <summary>The kernel's pressure files now: the machine's, and the group's; what is missing goes to <paramref name="unavailable"/>.</summary>
    internal (PressureStall? System, PressureStall? Group) ReadPressure(List<string> unavailable)
    {
        var reader = new CgroupReader(PressureRoot);
        PressureStall? system = reader.ReadPressure(CgroupReader.SystemPressurePath, unavailable);
        if (GroupPressurePath is null)
        {
            unavailable.Add("no cgroup v2 group for this process, so no memory.pressure");
            return (system, null);
        }

        return (system, reader.ReadPressure(GroupPressurePath, unavailable));
    }

    private static long Clamp(ulong value) => value > long.MaxValue ? long.MaxValue : (long)value;
}
