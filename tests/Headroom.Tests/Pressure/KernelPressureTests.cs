using Headroom.Cgroups;
using Headroom.Tests.Cgroups;

namespace Headroom.Tests.Pressure;

/// <summary>The process budget's pressure reading puts the kernel's PSI files beside Headroom's own, read afresh each time; a missing file is said so.</summary>
public sealed class KernelPressureTests : IDisposable
{
    private const long MiB = 1L << 20;
    private readonly FixtureTree _tree = new();

    public void Dispose() => _tree.Dispose();

    private MemoryBudget ProcessBudget(string mounts, string cgroup)
    {
        _tree.Write("/proc/self/mountinfo", mounts);
        _tree.Write("/proc/self/cgroup", cgroup);
        return MemoryBudget.ForProcess(new ProcessBudgetOptions(), ProcessMemoryLimit.From(new CgroupReader(_tree.Root).Read()));
    }

    [Fact]
    public void A_v2_process_budget_reads_the_machine_and_group_files_on_every_reading()
    {
        _tree.V2Group("/sys/fs/cgroup/app", $"{200 * MiB}");
        using MemoryBudget budget = ProcessBudget(FixtureTree.V2Mounts, "0::/app\n");

        PressureReading reading = budget.Pressure.Read();
        Assert.Equal(new KernelPressure("/proc/pressure/memory", new StallShare(1.50, 0.25, 0.05, 12345), new StallShare(0.50, 0.10, 0.01, 678)), reading.SystemPressure);
        Assert.Equal(new StallShare(3, 2, 1, 999), reading.GroupPressure!.Some);
        Assert.Equal("/sys/fs/cgroup/app/memory.pressure", reading.GroupPressure.Path);
        Assert.Equal(default, reading.Some); // Headroom's own figures beside them
        Assert.Empty(reading.Unavailable);

        _tree.Write("/proc/pressure/memory", "some avg10=9.25 avg60=1.00 avg300=0.00 total=424242\n"); // the kernel moves on; no full line
        reading = budget.Pressure.Read();
        Assert.Equal(new StallShare(9.25, 1, 0, 424242), reading.SystemPressure!.Some);
        Assert.Null(reading.SystemPressure.Full);
        Assert.Contains("kernel /proc/pressure/memory: some avg10=9.25", reading.ToString(), StringComparison.Ordinal);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Where_the_files_do_not_exist_the_reading_says_so()
    {
        _tree.Delete("/proc/pressure/memory");
        _tree.V1Group("/sys/fs/cgroup/memory/app", $"{200 * MiB}", usage: 0, inactive: 0);
        using MemoryBudget budget = ProcessBudget(
            "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n" +
            "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n" +
            "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n",
            "4:memory:/app\n");

        PressureReading reading = budget.Pressure.Read();
        Assert.Null(reading.SystemPressure);
        Assert.Null(reading.GroupPressure);
        Assert.Contains("no /proc/pressure/memory", reading.Unavailable);
        Assert.Contains(reading.Unavailable, u => u.Contains("memory.pressure", StringComparison.Ordinal));
        Assert.Contains("not read: no /proc/pressure/memory", reading.ToString(), StringComparison.Ordinal);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void On_this_machine_the_process_budget_reads_the_real_files_or_says_why_not()
    {
        using MemoryBudget budget = MemoryBudget.ForProcess(new ProcessBudgetOptions { HeadroomFraction = 0.5 });
        PressureReading reading = budget.Pressure.Read();
        if (File.Exists("/proc/pressure/memory"))
        {
            Assert.NotNull(reading.SystemPressure);
            Assert.Equal("/proc/pressure/memory", reading.SystemPressure.Path);
            Assert.True(reading.SystemPressure.Some.TotalMicroseconds >= 0);
        }
        else
        {
            Assert.Null(reading.SystemPressure);
            Assert.Contains("no /proc/pressure/memory", reading.Unavailable);
        }

        Assert.True(reading.GroupPressure is not null || reading.Unavailable.Any(u => u.Contains("memory.pressure", StringComparison.Ordinal)));
        TestBudgets.AssertEmpty(budget);
    }
}
