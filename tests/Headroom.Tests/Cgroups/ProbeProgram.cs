using System.Globalization;

namespace Headroom.Tests.Cgroups;

/// <summary>
/// The test assembly's entry point (the test SDK's generated one does nothing): run as
/// <c>Headroom.Tests cgroup-probe</c> inside a real memory group, it prints what the reader and the GC see there,
/// one "key=value" per line, for <see cref="RealGroupTests"/> to check.
/// </summary>
public static class ProbeProgram
{
    public const string Command = "cgroup-probe";

    public static int Main(string[] args)
    {
        if (args is not [Command])
        {
            return 0;
        }

        ProcessMemoryLimit limit = ProcessMemoryLimit.Read();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"limit={limit.LimitBytes}"));
        Console.WriteLine($"source={limit.Source}");
        Console.WriteLine($"group={limit.CgroupPath}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"gcTotalAvailable={GC.GetGCMemoryInfo().TotalAvailableMemoryBytes}"));
        Console.WriteLine($"description={limit.Description}");
        return 0;
    }
}
