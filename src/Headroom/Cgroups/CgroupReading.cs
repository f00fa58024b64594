namespace Headroom.Cgroups;

/// <summary>What <see cref="CgroupReader"/> found, and (in <see cref="Missing"/>) what it looked for and could not find.</summary>
internal sealed record CgroupReading
{
    /// <summary>1 or 2 when a cgroup file system is mounted (the hierarchy the runtime would use), else 0.</summary>
    public int Version { get; init; }

    /// <summary>The process's memory group directory, as the kernel names it (for example /sys/fs/cgroup/memory/a/b); null when not found.</summary>
    public string? GroupPath { get; init; }

    /// <summary>The group's limit in bytes; null when there is none (unset, "max", or huge) or it could not be read.</summary>
    public ulong? GroupLimitBytes { get; init; }

    /// <summary>How <see cref="GroupLimitBytes"/> was found, for example "memory.limit_in_bytes = 268435456".</summary>
    public string? GroupLimitRule { get; init; }

    /// <summary>Physical memory (MemTotal of /proc/meminfo); null when unreadable.</summary>
    public ulong? PhysicalMemoryBytes { get; init; }

    /// <summary>The soft RLIMIT_AS (from /proc/self/limits); null when unlimited or unreadable.</summary>
    public ulong? AddressSpaceLimitBytes { get; init; }

    /// <summary>The group's usage as Docker and Kubernetes count it (page cache that is inactive is left out); null when unreadable.</summary>
    public ulong? UsageBytes { get; init; }

    /// <summary>How <see cref="UsageBytes"/> was computed.</summary>
    public string? UsageRule { get; init; }

    /// <summary>The machine's memory pressure (/proc/pressure/memory); null when the kernel has no PSI.</summary>
    public PressureStall? SystemPressure { get; init; }

    /// <summary>The process's cgroup v2 group's memory.pressure; null when there is none (cgroup v1 has no such file).</summary>
    public PressureStall? GroupPressure { get; init; }

    /// <summary>The root the files were read below ("/" for the real machine).</summary>
    public string Root { get; init; } = "/";

    /// <summary>The path of the v2 group's memory.pressure (below <see cref="Root"/>), read again on each pressure reading; null when there is no v2 group.</summary>
    public string? GroupPressurePath { get; init; }

    /// <summary>Everything looked for and not found, each with the reason.</summary>
    public IReadOnlyList<string> Missing { get; init; } = [];

    /// <summary>
    /// The limit the kernel enforces on this process, as the runtime computes it: the group's limit capped by RLIMIT_AS
    /// and physical memory, else physical memory (capped by RLIMIT_AS); null when not even physical memory is known.
    /// </summary>
    public ulong? EffectiveLimitBytes
    {
        get
        {
            ulong? limit = GroupLimitBytes ?? PhysicalMemoryBytes;
            if (limit is not { } l)
            {
                return null;
            }

            if (AddressSpaceLimitBytes is { } rlimit)
            {
                l = Math.Min(l, rlimit);
            }

            return PhysicalMemoryBytes is { } physical ? Math.Min(l, physical) : l;
        }
    }
}
