namespace Headroom;

/// <summary>Where a <see cref="ProcessMemoryLimit"/> came from.</summary>
public enum MemoryLimitSource
{
    /// <summary>A cgroup v1 memory controller's limit (<c>memory.limit_in_bytes</c> or <c>hierarchical_memory_limit</c>).</summary>
    CgroupV1,

    /// <summary>The smallest cgroup v2 <c>memory.max</c> from the process's group up to the hierarchy's root.</summary>
    CgroupV2,

    /// <summary>No cgroup limit applies: physical memory (MemTotal of /proc/meminfo), capped by RLIMIT_AS.</summary>
    PhysicalMemory,

    /// <summary>Not even physical memory could be read (not Linux, or /proc unreadable): the runtime's own figure, <see cref="GCMemoryInfo.TotalAvailableMemoryBytes"/>.</summary>
    Runtime,
}
