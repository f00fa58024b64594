using System.Diagnostics;
using System.Globalization;
using Headroom.Cgroups;
using Headroom.Lab.Scenarios.Container;
using Xunit.Abstractions;

namespace Headroom.Tests.Cgroups;

/// <summary>The reader on this machine's real files, and in a child process started inside a real v1 memory group.</summary>
public sealed class RealGroupTests(ITestOutputHelper output)
{
    private const long MiB = 1L << 20;

    [Fact]
    public void Reader_in_this_process_agrees_with_the_GCs_total_available_memory()
    {
        CgroupReading reading = new CgroupReader().Read();
        ProcessMemoryLimit limit = ProcessMemoryLimit.From(reading);
        long gc = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        output.WriteLine($"this process: {limit}");
        output.WriteLine($"unavailable: {string.Join("; ", limit.Unavailable)}");
        output.WriteLine($"GC total available: {gc}");

        if (!OperatingSystem.IsLinux())
        {
            Assert.Equal(MemoryLimitSource.Runtime, limit.Source);
            return;
        }

        Assert.NotEqual(MemoryLimitSource.Runtime, limit.Source);
        Assert.Equal(GcSees(limit), gc);
    }

    [Fact]
    public void Reader_finds_this_processs_own_group_from_proc_self_cgroup()
    {
        if (!File.Exists("/proc/self/cgroup"))
        {
            Assert.False(OperatingSystem.IsLinux(), "Linux without /proc/self/cgroup");
            return;
        }

        CgroupReading reading = new CgroupReader().Read();
        string memoryLine = File.ReadAllLines("/proc/self/cgroup").FirstOrDefault(l => l.Split(':')[1].Split(',').Contains("memory")) ?? string.Empty;
        output.WriteLine($"/proc/self/cgroup memory line: '{memoryLine}'; reader's group: {reading.GroupPath}");
        if (reading.Version == 1)
        {
            Assert.EndsWith(memoryLine.Split(':')[2].TrimEnd('/'), reading.GroupPath, StringComparison.Ordinal);
            Assert.True(Directory.Exists(reading.GroupPath), $"{reading.GroupPath} is not a directory");
            Assert.NotNull(reading.UsageBytes);
        }
    }

    [Fact]
    public async Task Reader_in_a_child_started_inside_a_real_256_MiB_group_reports_the_limit_and_the_GC_agrees()
    {
        const long Limit = 256 * MiB;
        using MemoryGroup? group = MemoryGroup.TryCreate("reader-test", Limit, out GroupUnavailable? reason, out string why);
        if (group is null)
        {
            output.WriteLine($"not run here ({reason}): {why}");
            Assert.False(MemoryGroup.ShouldWorkHere, $"this machine (Linux, root, v1 memory controller) should make a group: {why}");
            return;
        }

        (string file, IReadOnlyList<string> prefix) = SelfLaunch.For(typeof(ProbeProgram).Assembly);
        Dictionary<string, string> seen;
        using (Process child = group.Start(file, [.. prefix, ProbeProgram.Command], new Dictionary<string, string> { ["DOTNET_gcServer"] = "0" }))
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            Task<string> stderr = child.StandardError.ReadToEndAsync(timeout.Token);
            string stdout = await child.StandardOutput.ReadToEndAsync(timeout.Token);
            await child.WaitForExitAsync(timeout.Token);
            output.WriteLine(stdout);
            Assert.True(child.ExitCode == 0, $"probe exit code {child.ExitCode}: {await stderr}");
            seen = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
        }

        Assert.Equal(nameof(MemoryLimitSource.CgroupV1), seen["source"]);
        Assert.Equal(group.Path, seen["group"]);
        Assert.Equal(Limit, long.Parse(seen["limit"], CultureInfo.InvariantCulture));
        Assert.Equal(Limit * 3 / 4, long.Parse(seen["gcTotalAvailable"], CultureInfo.InvariantCulture)); // the GC's default heap hard limit: 75 % of the container's
        Assert.StartsWith($"cgroup v1 {group.Path}: hierarchical_memory_limit of memory.stat = {Limit}", seen["description"], StringComparison.Ordinal);

        group.Dispose();
        Assert.True(group.Removed, $"{group.Path} is still there");
    }

    /// <summary>What the GC reports for a limit: a container's default heap hard limit is max(20 MB, 75 %); else the limit itself.</summary>
    private static long GcSees(ProcessMemoryLimit limit) =>
        limit.Source is MemoryLimitSource.CgroupV1 or MemoryLimitSource.CgroupV2 ? Math.Max(20L * 1024 * 1024, limit.LimitBytes * 3 / 4) : limit.LimitBytes;
}
