using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Headroom.Lab.Scenarios.Container;

/// <summary>Why a memory group could not be made here: the machine's reason, not a defect.</summary>
internal enum GroupUnavailable
{
    /// <summary>Not Linux: there are no cgroups.</summary>
    NotLinux,

    /// <summary>No cgroup v1 memory controller is mounted where one is looked for.</summary>
    NoMemoryController,

    /// <summary>The controller is there but this user may not make a group in it (not root, or a read-only mount).</summary>
    NotPermitted,
}

/// <summary>
/// A real cgroup v1 memory group made for one run: a child directory of the memory controller with a
/// <c>memory.limit_in_bytes</c>, into which child processes are started, and which is removed (rmdir) when disposed,
/// after its processes ended. The kernel enforces the limit: a process that charges past it is OOM-killed (exit 137).
/// Shared by the lab's container scenario and the library's tests (linked into Headroom.Tests).
/// </summary>
internal sealed class MemoryGroup : IDisposable
{
    /// <summary>Where this project's machines mount the v1 memory controller.</summary>
    public const string DefaultController = "/sys/fs/cgroup/memory";

    private static int s_made;
    private readonly List<Process> _started = [];

    private MemoryGroup(string path, long limitBytes)
    {
        Path = path;
        LimitBytes = limitBytes;
    }

    /// <summary>
    /// Gets whether this machine should be able to make a group: Linux, the v1 memory controller mounted, and root.
    /// Tests use it to tell a machine that cannot from a defect that did not.
    /// </summary>
    public static bool ShouldWorkHere =>
        OperatingSystem.IsLinux() && File.Exists(System.IO.Path.Combine(DefaultController, "memory.limit_in_bytes")) && Environment.UserName == "root";

    /// <summary>Gets the group's directory.</summary>
    public string Path { get; }

    /// <summary>Gets the limit written to memory.limit_in_bytes (the kernel may round it down to a page).</summary>
    public long LimitBytes { get; }

    /// <summary>Gets whether the group's directory is gone.</summary>
    public bool Removed => !Directory.Exists(Path);

    /// <summary>Makes a group of <paramref name="limitBytes"/>, or says (in <paramref name="reason"/> and <paramref name="why"/>) why it cannot here.</summary>
    public static MemoryGroup? TryCreate(string purpose, long limitBytes, out GroupUnavailable? reason, out string why, string controller = DefaultController)
    {
        reason = null;
        if (!OperatingSystem.IsLinux())
        {
            reason = GroupUnavailable.NotLinux;
            why = $"not Linux ({RuntimeInformation.OSDescription}): there are no cgroups";
            return null;
        }

        if (!File.Exists(System.IO.Path.Combine(controller, "memory.limit_in_bytes")))
        {
            reason = GroupUnavailable.NoMemoryController;
            why = $"no cgroup v1 memory controller at {controller} (no memory.limit_in_bytes there)";
            return null;
        }

        string path = System.IO.Path.Combine(controller, string.Create(CultureInfo.InvariantCulture,
            $"headroom-{purpose}-{Environment.ProcessId}-{Interlocked.Increment(ref s_made)}"));
        try
        {
            Directory.CreateDirectory(path);
            File.WriteAllText(System.IO.Path.Combine(path, "memory.limit_in_bytes"), limitBytes.ToString(CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            TryRemove(path);
            reason = GroupUnavailable.NotPermitted;
            why = $"cannot make a memory group at {path}: {e.Message}";
            return null;
        }

        why = $"cgroup v1 memory group {path}, limit {limitBytes} bytes";
        return new MemoryGroup(path, limitBytes);
    }

    /// <summary>
    /// Starts <paramref name="fileName"/> inside the group from its first instruction: a shell writes its own pid to
    /// cgroup.procs and then execs the program, so the runtime reads the group's limit when it starts.
    /// </summary>
    public Process Start(string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("echo $$ > \"$0\" && exec \"$@\"");
        start.ArgumentList.Add(System.IO.Path.Combine(Path, "cgroup.procs"));
        start.ArgumentList.Add(fileName);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach ((string key, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        Process process = Process.Start(start) ?? throw new InvalidOperationException($"/bin/sh did not start for {fileName}.");
        _started.Add(process);
        return process;
    }

    /// <summary>memory.failcnt: how many times a charge hit the limit.</summary>
    public long FailCount => ReadNumber("memory.failcnt");

    /// <summary>memory.max_usage_in_bytes: the group's peak usage.</summary>
    public long PeakUsageBytes => ReadNumber("memory.max_usage_in_bytes");

    /// <summary>The "oom_kill" count of memory.oom_control: processes the kernel's OOM killer killed in this group.</summary>
    public long OomKills
    {
        get
        {
            foreach (string line in Read("memory.oom_control").Split('\n'))
            {
                if (line.StartsWith("oom_kill ", StringComparison.Ordinal))
                {
                    return long.Parse(line.AsSpan("oom_kill ".Length), NumberStyles.None, CultureInfo.InvariantCulture);
                }
            }

            return 0; // kernels before 4.13 do not count kills
        }
    }

    /// <summary>The pids in the group now.</summary>
    public IReadOnlyList<int> Processes() =>
        [.. Read("cgroup.procs").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(p => int.Parse(p, NumberStyles.None, CultureInfo.InvariantCulture))];

    /// <summary>Kills what this group started and is still running, waits for the group to empty (bounded), and removes it.</summary>
    public void Dispose()
    {
        foreach (Process process in _started)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                }

                process.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
                // never started or already reaped
            }

            process.Dispose();
        }

        // The kernel refuses rmdir (EBUSY) while a task is still leaving the group: retry for a bounded time.
        var clock = Stopwatch.StartNew();
        while (!TryRemove(Path) && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            Thread.Sleep(50);
        }
    }

    private static bool TryRemove(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: false); // rmdir: a cgroup's control files are not files to delete
            }

            return true;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    private string Read(string file) => File.ReadAllText(System.IO.Path.Combine(Path, file));

    private long ReadNumber(string file) => long.Parse(Read(file).Trim(), NumberStyles.None, CultureInfo.InvariantCulture);
}
