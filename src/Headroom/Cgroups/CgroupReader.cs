using System.Globalization;

namespace Headroom.Cgroups;

/// <summary>
/// Finds the process's memory limit and usage the way the .NET runtime's GC does (dotnet/runtime
/// src/coreclr/gc/unix/cgroup.cpp), below a root directory so that tests can run it on fixture trees:
/// <list type="number">
/// <item>the version: v2 when <c>/sys/fs/cgroup</c> itself is a cgroup2 mount, else v1 (hybrid systems count as v1:
/// their memory controller is v1's);</item>
/// <item>the group: the mount of the hierarchy from <c>/proc/self/mountinfo</c> (the last that matches, as the runtime
/// takes it), joined with the process's path from <c>/proc/self/cgroup</c>;</item>
/// <item>the limit: v2 the smallest <c>memory.max</c> from the group up to (not including) the mount; v1
/// <c>hierarchical_memory_limit</c> of <c>memory.stat</c> when <c>memory.use_hierarchy</c> is 1, else
/// <c>memory.limit_in_bytes</c>; capped by RLIMIT_AS and physical memory;</item>
/// <item>usage: <c>memory.current − inactive_file</c> (v2) or <c>memory.usage_in_bytes − total_inactive_file</c> (v1).</item>
/// </list>
/// It also reads <c>/proc/pressure/memory</c> and the v2 group's <c>memory.pressure</c> (on a hybrid system, from the
/// unified hierarchy). Nothing here throws for a missing file: the reading says what it could not find.
/// </summary>
internal sealed class CgroupReader
{
    private const string CgroupMountPoint = "/sys/fs/cgroup";

    /// <summary>The machine's pressure stall file.</summary>
    internal const string SystemPressurePath = "/proc/pressure/memory";

    private readonly CgroupFiles _files;
    private readonly string _root;

    /// <summary>Creates a reader of the files below <paramref name="root"/> ("/" for the real machine).</summary>
    public CgroupReader(string root = "/")
    {
        _root = root;
        _files = new CgroupFiles(root);
    }

    public CgroupReading Read()
    {
        var missing = new List<string>();
        ulong? physical = ReadPhysicalMemory(missing);
        ulong? rlimit = ReadAddressSpaceLimit(missing);
        PressureStall? system = ReadPressure(SystemPressurePath, missing);

        string? mountText = _files.ReadText("/proc/self/mountinfo", missing);
        string? cgroupText = _files.ReadText("/proc/self/cgroup", missing);
        List<Mount> mounts = mountText is null ? [] : MountTable.Parse(mountText);
        var reading = new CgroupReading { Root = _root, PhysicalMemoryBytes = physical, AddressSpaceLimitBytes = rlimit, SystemPressure = system };
        if (mountText is null || cgroupText is null)
        {
            return reading with { Missing = missing };
        }

        if (!mounts.Any(m => m.FileSystemType.StartsWith("cgroup", StringComparison.Ordinal)))
        {
            missing.Add("no cgroup file system in /proc/self/mountinfo");
            return reading with { Missing = missing };
        }

        bool v2 = mounts.LastOrDefault(m => m.MountPoint == CgroupMountPoint)?.FileSystemType == "cgroup2";
        string? unified = Group(mounts, cgroupText, controller: null, v2 ? missing : null);
        PressureStall? groupPressure = null;
        if (unified is not null)
        {
            groupPressure = ReadPressure(unified + "/memory.pressure", missing);
        }
        else if (!v2)
        {
            missing.Add(mounts.Any(m => m.FileSystemType == "cgroup2")
                ? "no \"0::\" line in /proc/self/cgroup, so no group memory.pressure"
                : "no cgroup v2 hierarchy mounted beside v1, so no group memory.pressure");
        }

        string? group = v2 ? unified : Group(mounts, cgroupText, "memory", missing);
        reading = reading with { Version = v2 ? 2 : 1, GroupPath = group, GroupPressure = groupPressure, GroupPressurePath = unified is null ? null : unified + "/memory.pressure" };
        if (group is null)
        {
            return reading with { Missing = missing };
        }

        reading = v2 ? ReadV2(reading, group, mounts, missing) : ReadV1(reading, group, missing);
        return reading with { Missing = missing };
    }

    /// <summary>The group directory of the v1 hierarchy with <paramref name="controller"/>, or of the v2 hierarchy.</summary>
    private static string? Group(List<Mount> mounts, string cgroupText, string? controller, List<string>? missing)
    {
        Mount? mount = mounts.LastOrDefault(m => controller is null
            ? m.FileSystemType == "cgroup2"
            : m.FileSystemType == "cgroup" && m.SuperOptions.Contains(controller, StringComparer.Ordinal));
        if (mount is null)
        {
            missing?.Add(controller is null ? "no cgroup2 mount in /proc/self/mountinfo" : $"no cgroup v1 mount with the {controller} controller in /proc/self/mountinfo");
            return null;
        }

        string? path = CgroupMembership.Find(cgroupText, controller);
        if (path is null)
        {
            missing?.Add(controller is null ? "no \"0::\" line in /proc/self/cgroup" : $"no {controller} line in /proc/self/cgroup");
            return null;
        }

        return CgroupMembership.Locate(mount, path);
    }

    private CgroupReading ReadV1(CgroupReading reading, string group, List<string> missing)
    {
        // The runtime reads use_hierarchy as a number and treats an unreadable file as 0.
        _files.TryReadBytes(group + "/memory.use_hierarchy", missing, out ulong? useHierarchy);
        ulong? limit;
        string rule;
        if (useHierarchy is > 0)
        {
            limit = _files.ReadField(group + "/memory.stat", "hierarchical_memory_limit", missing);
            limit = limit > CgroupFiles.UnlimitedAbove ? null : limit;
            rule = $"hierarchical_memory_limit of memory.stat = {Describe(limit)} (memory.use_hierarchy = 1)";
        }
        else
        {
            bool read = _files.TryReadBytes(group + "/memory.limit_in_bytes", missing, out limit);
            rule = read ? $"memory.limit_in_bytes = {Describe(limit)}" : "memory.limit_in_bytes unreadable";
        }

        (ulong? usage, string? usageRule) = Usage(group, "memory.usage_in_bytes", "total_inactive_file", missing);
        return reading with { GroupLimitBytes = limit, GroupLimitRule = rule, UsageBytes = usage, UsageRule = usageRule };
    }

    private CgroupReading ReadV2(CgroupReading reading, string group, List<Mount> mounts, List<string> missing)
    {
        string mountPoint = mounts.Last(m => m.FileSystemType == "cgroup2").MountPoint.TrimEnd('/');
        ulong? smallest = null;
        string? at = null;
        int levels = 0;
        bool anyFile = false;
        var levelMissing = new List<string>();

        // The root of the hierarchy has no memory.max: walk from the group up to, not including, the mount point.
        for (string dir = group; dir.Length > mountPoint.Length && dir.StartsWith(mountPoint, StringComparison.Ordinal); dir = dir[..dir.LastIndexOf('/')])
        {
            levels++;
            if (_files.TryReadBytes(dir + "/memory.max", levelMissing, out ulong? limit))
            {
                anyFile = true;
                if (limit is { } l && (smallest is null || l < smallest))
                {
                    smallest = l;
                    at = dir;
                }
            }
        }

        string rule;
        if (levels == 0)
        {
            missing.Add($"the process's v2 group is the hierarchy's root ({group}), which has no memory.max");
            rule = "no memory.max at the root";
        }
        else if (!anyFile)
        {
            missing.AddRange(levelMissing);
            rule = "memory.max unreadable at every level";
        }
        else
        {
            rule = smallest is null
                ? $"memory.max = max at all {levels} level(s)"
                : string.Create(CultureInfo.InvariantCulture, $"memory.max = {smallest} at {at} (the smallest of {levels} level(s))");
        }

        (ulong? usage, string? usageRule) = Usage(group, "memory.current", "inactive_file", missing);
        return reading with { GroupLimitBytes = smallest, GroupLimitRule = rule, UsageBytes = usage, UsageRule = usageRule };
    }

    private (ulong? Usage, string? Rule) Usage(string group, string usageFile, string inactiveField, List<string> missing)
    {
        if (!_files.TryReadBytes($"{group}/{usageFile}", missing, out ulong? usage) || usage is not { } u)
        {
            return (null, null);
        }

        if (_files.ReadField(group + "/memory.stat", inactiveField, missing) is not { } inactive)
        {
            return (null, null); // the runtime gives no usage without the inactive page cache either
        }

        ulong counted = u > inactive ? u - inactive : 0;
        return (counted, string.Create(CultureInfo.InvariantCulture, $"{usageFile} {u} − {inactiveField} {inactive}"));
    }

    /// <summary>Reads one pressure stall file (read again on every pressure reading of the process budget).</summary>
    internal PressureStall? ReadPressure(string path, List<string> missing)
    {
        string? text = _files.ReadText(path, missing);
        if (text is null)
        {
            return null;
        }

        PressureStall? stall = PressureStall.Parse(path, text);
        if (stall is null)
        {
            missing.Add($"{path} has no \"some\" line");
        }

        return stall;
    }

    private ulong? ReadPhysicalMemory(List<string> missing)
    {
        // MemTotal's line is "MemTotal:   24683584 kB": the value is followed by its unit.
        string? text = _files.ReadText("/proc/meminfo", missing);
        foreach (string line in text?.Split('\n') ?? [])
        {
            string[] words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words is ["MemTotal:", var value, "kB"] && ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out ulong kib))
            {
                return kib * 1024;
            }
        }

        if (text is not null)
        {
            missing.Add("no MemTotal line in /proc/meminfo");
        }

        return null;
    }

    private ulong? ReadAddressSpaceLimit(List<string> missing)
    {
        string? text = _files.ReadText("/proc/self/limits", missing);
        foreach (string line in text?.Split('\n') ?? [])
        {
            if (line.StartsWith("Max address space", StringComparison.Ordinal))
            {
                string[] words = line["Max address space".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return words.Length > 0 && ulong.TryParse(words[0], NumberStyles.None, CultureInfo.InvariantCulture, out ulong soft) ? soft : null;
            }
        }

        return null;
    }

    private static string Describe(ulong? limit) => limit is { } l ? l.ToString(CultureInfo.InvariantCulture) : "none";
}
