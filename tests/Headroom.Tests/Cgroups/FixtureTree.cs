namespace Headroom.Tests.Cgroups;

/// <summary>A temporary directory laid out like / for the cgroup reader: /proc/self/*, /proc/meminfo, /sys/fs/cgroup/…</summary>
internal sealed class FixtureTree : IDisposable
{
    public const long MemTotal = 16L << 30;

    public const string HybridMounts =
        "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n" +
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n" +
        "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n" +
        "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n" +
        "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n" +
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

    public const string V2Mounts =
        "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n" +
        "30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";

    public FixtureTree()
    {
        Root = Directory.CreateTempSubdirectory("headroom-cgroup-fixture-").FullName;
        Write("/proc/meminfo", $"MemTotal:       {MemTotal / 1024} kB\nMemFree:         1000 kB\n");
        Write("/proc/self/limits", "Limit                     Soft Limit           Hard Limit           Units\nMax address space         unlimited            unlimited            bytes\n");
        Write("/proc/pressure/memory", "some avg10=1.50 avg60=0.25 avg300=0.05 total=12345\nfull avg10=0.50 avg60=0.10 avg300=0.01 total=678\n");
    }

    public string Root { get; }

    public void Write(string path, string text)
    {
        string full = Root + path;
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, text);
    }

    public void Delete(string path) => File.Delete(Root + path);

    /// <summary>A cgroup v1 memory group with the files the reader uses.</summary>
    public void V1Group(string dir, string limit, long usage, long inactive, int useHierarchy = 1, string? hierarchical = null)
    {
        Write(dir + "/memory.limit_in_bytes", limit + "\n");
        Write(dir + "/memory.usage_in_bytes", $"{usage}\n");
        Write(dir + "/memory.use_hierarchy", $"{useHierarchy}\n");
        Write(dir + "/memory.stat", $"cache 0\nrss {usage}\ninactive_file 1\nhierarchical_memory_limit {hierarchical ?? limit}\ntotal_inactive_file {inactive}\n");
    }

    /// <summary>A cgroup v2 group: memory.max, memory.current, memory.stat and memory.pressure.</summary>
    public void V2Group(string dir, string max, long current = 0, long inactive = 0)
    {
        Write(dir + "/memory.max", max + "\n");
        Write(dir + "/memory.current", $"{current}\n");
        Write(dir + "/memory.stat", $"anon {current}\nfile 0\ninactive_file {inactive}\nactive_file 0\n");
        Write(dir + "/memory.pressure", "some avg10=3.00 avg60=2.00 avg300=1.00 total=999\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
