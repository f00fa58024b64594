using Headroom.Cgroups;

namespace Headroom.Tests.Cgroups;

/// <summary>The reader on directory trees laid out like the kernel's, each built by the test with the values it expects back.</summary>
public sealed class CgroupReaderFixtureTests : IDisposable
{
    private const long MiB = 1L << 20;
    private readonly FixtureTree _tree = new();

    public void Dispose() => _tree.Dispose();

    [Fact]
    public void V1_group_found_through_mountinfo_and_proc_self_cgroup_gives_its_limit_and_docker_usage()
    {
        _tree.Write("/proc/self/mountinfo", FixtureTree.HybridMounts);
        _tree.Write("/proc/self/cgroup", "4:memory:/process_api/abc\n1:cpu:/\n0::/\n");
        _tree.V1Group("/sys/fs/cgroup/memory/process_api/abc", limit: $"{256 * MiB}", usage: 100 * MiB, inactive: 10 * MiB, useHierarchy: 0);

        CgroupReading reading = new CgroupReader(_tree.Root).Read();
        ProcessMemoryLimit limit = ProcessMemoryLimit.From(reading);

        Assert.Equal(1, reading.Version);
        Assert.Equal("/sys/fs/cgroup/memory/process_api/abc", reading.GroupPath);
        Assert.Equal((ulong)(256 * MiB), reading.GroupLimitBytes);
        Assert.Equal((ulong)(90 * MiB), reading.UsageBytes);
        Assert.Equal(MemoryLimitSource.CgroupV1, limit.Source);
        Assert.Equal(256 * MiB, limit.LimitBytes);
        Assert.Equal(90 * MiB, limit.UsageBytes);
        Assert.StartsWith($"cgroup v1 /sys/fs/cgroup/memory/process_api/abc: memory.limit_in_bytes = {256 * MiB}", limit.Description, StringComparison.Ordinal);
    }

    [Fact]
    public void V1_with_use_hierarchy_takes_hierarchical_memory_limit_which_includes_a_parents_smaller_limit()
    {
        _tree.Write("/proc/self/mountinfo", FixtureTree.HybridMounts);
        _tree.Write("/proc/self/cgroup", "4:memory:/parent/child\n0::/\n");
        _tree.V1Group("/sys/fs/cgroup/memory/parent/child", limit: "9223372036854771712", usage: 5 * MiB, inactive: 0, useHierarchy: 1, hierarchical: $"{64 * MiB}");

        ProcessMemoryLimit limit = ProcessMemoryLimit.From(new CgroupReader(_tree.Root).Read());

        Assert.Equal(MemoryLimitSource.CgroupV1, limit.Source);
        Assert.Equal(64 * MiB, limit.LimitBytes);
        Assert.Contains("hierarchical_memory_limit", limit.Description, StringComparison.Ordinal);
    }

    [Fact]
    public void V1_unlimited_group_falls_back_to_physical_memory_and_says_so()
    {
        _tree.Write("/proc/self/mountinfo", FixtureTree.HybridMounts);
        _tree.Write("/proc/self/cgroup", "4:memory:/a\n0::/\n");
        _tree.V1Group("/sys/fs/cgroup/memory/a", limit: "9223372036854771712", usage: MiB, inactive: 0);

        ProcessMemoryLimit limit = ProcessMemoryLimit.From(new CgroupReader(_tree.Root).Read());

        Assert.Equal(MemoryLimitSource.PhysicalMemory, limit.Source);
        Assert.Equal(FixtureTree.MemTotal, limit.LimitBytes);
        Assert.StartsWith("physical memory: no cgroup limit (cgroup v1 /sys/fs/cgroup/memory/a: hierarchical_memory_limit", limit.Description, StringComparison.Ordinal);
        Assert.Equal("/sys/fs/cgroup/memory/a", limit.CgroupPath);
    }

    [Fact]
    public void Limit_above_physical_memory_or_rlimit_as_is_capped_as_the_runtime_caps_it()
    {
        _tree.Write("/proc/self/mountinfo", FixtureTree.HybridMounts);
        _tree.Write("/proc/self/cgroup", "4:memory:/a\n");
        _tree.V1Group("/sys/fs/cgroup/memory/a", limit: $"{64L << 30}", usage: 0, inactive: 0, useHierarchy: 0);
        Assert.Equal(FixtureTree.MemTotal, ProcessMemoryLimit.From(new CgroupReader(_tree.Root).Read()).LimitBytes);

        _tree.Write("/proc/self/limits", $"Max address space         {3L << 30}           unlimited            bytes\n");
        ProcessMemoryLimit capped = ProcessMemoryLimit.From(new CgroupReader(_tree.Root).Read());
        Assert.Equal(3L << 30, capped.LimitBytes);
        Assert.Contains("RLIMIT_AS", capped.Description, StringComparison.Ordinal);
    }

    [Fact]
    public void V2_nested_group_takes_the_smallest_memory_max_of_its_ancestors()
    {
        _tree.Write("/proc/self/mountinfo", FixtureTree.V2Mounts);
        _tree.Write("/proc/self/cgroup", "0::/kubepods/pod1/app\n");
        _tree.V2Group("/sys/fs/cgroup/kubepods", "max");
        _tree.V2Group("/sys/fs/cgroup/kubepods/pod1", $"{128 * MiB}");
        _tree.V2Group("/sys/fs/cgroup/kubepods/pod1/app", $"{512 * MiB}", current: 40 * MiB, inactive: 4 * MiB);
        _tree.Write("/sys/fs/cgroup/memory.max", $"{MiB}\n"); // the root has no memory.max: a stray one must not be read

        CgroupReading reading = new CgroupReader(_tree.Root).Read();
        ProcessMemoryLimit limit = ProcessMemoryLimit.From(reading);

        Assert.Equal(2, reading.Version);
        Assert.Equal(MemoryLimitSource.CgroupV2, limit.Source);
        Assert.Equal(128 * MiB, limit.LimitBytes);
        Assert.Equal(36 * MiB, limit.UsageBytes);
        Assert.Contains("at /sys/fs/cgroup/kubepods/pod1 (the smallest of 3 level(s))", limit.Description, StringComparison.Ordinal);
        Assert.NotNull(reading.GroupPressure);
        Assert.Equal(3.00, reading.GroupPressure.Some.Avg10);
        Assert.Equal(999UL, reading.GroupPressure.Some.TotalMicroseconds);
    }

    [Fact]
    public void V2_max_at_every_level_is_no_limit()
    {
        _tree.Write("/proc/self/mountinfo", FixtureTree.V2Mounts);
        _tree.Write("/proc/self/cgroup", "0::/a/b\n");
        _tree.V2Group("/sys/fs/cgroup/a", "max");
        _tree.V2Group("/sys/fs/cgroup/a/b", "max");

        CgroupReading reading = new CgroupReader(_tree.Root).Read();

        Assert.Null(reading.GroupLimitBytes);
        Assert.Equal("memory.max = max at all 2 level(s)", reading.GroupLimitRule);
        Assert.Equal(MemoryLimitSource.PhysicalMemory, ProcessMemoryLimit.From(reading).Source);
    }

    [Fact]
    public void V2_group_at_the_root_of_its_namespace_reads_no_memory_max_and_says_why()
    {
        _tree.Write("/proc/self/mountinfo", FixtureTree.V2Mounts);
        _tree.Write("/proc/self/cgroup", "0::/\n");
        _tree.Write("/sys/fs/cgroup/memory.max", $"{MiB}\n");

        CgroupReading reading = new CgroupReader(_tree.Root).Read();

        Assert.Null(reading.GroupLimitBytes);
        Assert.Contains(reading.Missing, m => m.Contains("hierarchy's root", StringComparison.Ordinal));
        Assert.Equal(FixtureTree.MemTotal, ProcessMemoryLimit.From(reading).LimitBytes);
    }

    [Fact]
    public void Container_bind_mount_root_is_stripped_from_the_group_path()
    {
        // Docker without a cgroup namespace: the container sees its own group mounted at /sys/fs/cgroup/memory.
        _tree.Write("/proc/self/mountinfo",
            "22 1 8:1 / / rw - overlay overlay rw\n" +
            "31 22 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n" +
            "35 31 0:32 /docker/87ee /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n");
        _tree.Write("/proc/self/cgroup", "4:memory:/docker/87ee/inner\n");
        _tree.V1Group("/sys/fs/cgroup/memory/inner", limit: $"{32 * MiB}", usage: MiB, inactive: 0, useHierarchy: 0);

        CgroupReading reading = new CgroupReader(_tree.Root).Read();

        Assert.Equal("/sys/fs/cgroup/memory/inner", reading.GroupPath);
        Assert.Equal((ulong)(32 * MiB), reading.GroupLimitBytes);
    }

    [Fact]
    public void Several_mounts_of_the_memory_controller_take_the_last_and_escaped_paths_are_decoded()
    {
        _tree.Write("/proc/self/mountinfo",
            "31 22 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n" +
            "35 31 0:32 / /old\\040memory rw - cgroup cgroup rw,memory\n" +
            "36 31 0:33 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n" +
            "37 31 0:34 / /mnt/my\\040mem rw shared:9 master:2 - cgroup cgroup rw,memory\n");
        _tree.Write("/proc/self/cgroup", "5:cpu,cpuacct:/x\n4:memory:/g\n");
        _tree.V1Group("/mnt/my mem/g", limit: $"{48 * MiB}", usage: 0, inactive: 0, useHierarchy: 0);

        CgroupReading reading = new CgroupReader(_tree.Root).Read();

        Assert.Equal("/mnt/my mem/g", reading.GroupPath);
        Assert.Equal((ulong)(48 * MiB), reading.GroupLimitBytes);
    }

    [Fact]
    public void Missing_stat_file_leaves_usage_unknown_with_a_reason_and_keeps_the_limit()
    {
        _tree.Write("/proc/self/mountinfo", FixtureTree.HybridMounts);
        _tree.Write("/proc/self/cgroup", "4:memory:/a\n");
        _tree.V1Group("/sys/fs/cgroup/memory/a", limit: $"{64 * MiB}", usage: MiB, inactive: 0, useHierarchy: 0);
        _tree.Delete("/sys/fs/cgroup/memory/a/memory.stat");

        CgroupReading reading = new CgroupReader(_tree.Root).Read();

        Assert.Equal((ulong)(64 * MiB), reading.GroupLimitBytes);
        Assert.Null(reading.UsageBytes);
        Assert.Contains("no /sys/fs/cgroup/memory/a/memory.stat", reading.Missing);
    }

    [Fact]
    public void Missing_limit_file_and_missing_psi_are_reasons_not_exceptions()
    {
        _tree.Write("/proc/self/mountinfo", FixtureTree.HybridMounts);
        _tree.Write("/proc/self/cgroup", "4:memory:/a\n0::/\n");
        _tree.Write("/sys/fs/cgroup/memory/a/memory.use_hierarchy", "0\n");
        _tree.Delete("/proc/pressure/memory");

        CgroupReading reading = new CgroupReader(_tree.Root).Read();
        ProcessMemoryLimit limit = ProcessMemoryLimit.From(reading);

        Assert.Contains("no /sys/fs/cgroup/memory/a/memory.limit_in_bytes", reading.Missing);
        Assert.Contains("no /proc/pressure/memory", reading.Missing);
        Assert.Contains("no /sys/fs/cgroup/unified/memory.pressure", reading.Missing);
        Assert.Equal(MemoryLimitSource.PhysicalMemory, limit.Source);
        Assert.Contains("pressure: no /proc/pressure/memory", limit.Description, StringComparison.Ordinal);
    }

    [Fact]
    public void No_proc_at_all_falls_back_to_the_runtime_and_lists_every_file_it_missed()
    {
        using var empty = new FixtureTree();
        empty.Delete("/proc/meminfo");
        empty.Delete("/proc/self/limits");

        CgroupReading reading = new CgroupReader(empty.Root).Read();
        ProcessMemoryLimit limit = ProcessMemoryLimit.From(reading);

        Assert.Equal(0, reading.Version);
        Assert.Equal(MemoryLimitSource.Runtime, limit.Source);
        Assert.Equal(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, limit.LimitBytes);
        Assert.Equal(["no /proc/meminfo", "no /proc/self/limits", "no /proc/self/mountinfo", "no /proc/self/cgroup"], reading.Missing);
    }

    [Fact]
    public void Mountinfo_without_cgroups_says_so()
    {
        _tree.Write("/proc/self/mountinfo", "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n");
        _tree.Write("/proc/self/cgroup", "0::/\n");

        CgroupReading reading = new CgroupReader(_tree.Root).Read();

        Assert.Equal(0, reading.Version);
        Assert.Contains("no cgroup file system in /proc/self/mountinfo", reading.Missing);
        Assert.Equal(MemoryLimitSource.PhysicalMemory, ProcessMemoryLimit.From(reading).Source);
    }

    [Fact]
    public void System_pressure_is_parsed_from_proc_pressure_memory()
    {
        _tree.Write("/proc/self/mountinfo", FixtureTree.V2Mounts);
        _tree.Write("/proc/self/cgroup", "0::/a\n");
        _tree.V2Group("/sys/fs/cgroup/a", "max");

        PressureStall? system = new CgroupReader(_tree.Root).Read().SystemPressure;

        Assert.NotNull(system);
        Assert.Equal(new StallLine(1.50, 0.25, 0.05, 12345), system.Some);
        Assert.Equal(new StallLine(0.50, 0.10, 0.01, 678), system.Full);
    }

    [Fact]
    public void A_limit_file_with_garbage_is_reported_and_not_taken_as_a_limit()
    {
        _tree.Write("/proc/self/mountinfo", FixtureTree.V2Mounts);
        _tree.Write("/proc/self/cgroup", "0::/a\n");
        _tree.V2Group("/sys/fs/cgroup/a", "lots");

        CgroupReading reading = new CgroupReader(_tree.Root).Read();

        Assert.Null(reading.GroupLimitBytes);
        Assert.Contains("/sys/fs/cgroup/a/memory.max holds 'lots', not a number of bytes", reading.Missing);
    }
}
