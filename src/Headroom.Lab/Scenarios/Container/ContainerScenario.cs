using System.Diagnostics;
using System.Text.Json;
using Headroom.Lab.Report;
using Headroom.Lab.Running;

namespace Headroom.Lab.Scenarios.Container;

/// <summary>
/// Scenario 6, container: the lab starts a child of itself inside a real cgroup v1 memory group with a
/// <see cref="Limit"/>, and the child's workload wants 1.5 × the limit (<see cref="ContainerChild"/>). <c>unmanaged</c>
/// allocates with no budget, and the kernel's OOM killer ends it; <c>headroom</c> sizes a budget from the limit the
/// child finds (<see cref="MemoryBudget.ForProcess"/>, less <see cref="Headroom"/> for the runtime and GC heap), so its
/// requests wait or fail by their mode and the process lives to the end. Where no group can be made here, both
/// policies are reported as not run, with the reason.
/// </summary>
internal sealed class ContainerScenario : IScenario
{
    /// <summary>The group's limit: small enough to be reached in a fraction of a second, large enough for a .NET process.</summary>
    public const long Limit = 128L << 20;

    /// <summary>
    /// What the headroom policy leaves to what the budget does not count: the runtime, the JIT, thread stacks and the GC
    /// heap of a small .NET process are about 30–40 MiB resident.
    /// </summary>
    public const long Headroom = 48L << 20;

    private static readonly TimeSpan LongestChild = TimeSpan.FromSeconds(5);

    private readonly string _controller;

    /// <summary>Creates the scenario; <paramref name="controller"/> is where the v1 memory controller is looked for (tests name a missing one).</summary>
    public ContainerScenario(string controller = MemoryGroup.DefaultController)
    {
        _controller = controller;
    }

    public string Name => "container";

    public string Title => "A container's memory limit, enforced by the kernel";

    public string Why =>
        "A .NET service in a container is killed by the kernel's OOM killer, without an exception or a log line, when its " +
        "group's usage reaches the limit. Here a child process runs inside a real memory cgroup and wants more than the " +
        "limit: without a budget the kernel kills it; with the process budget, sized from the limit the runtime itself " +
        "finds, its requests wait or are refused and the process survives.";

    public IReadOnlyList<string> Variants => [];

    public IReadOnlyList<string> Policies => ["unmanaged", "headroom"];

    /// <summary>The child's start (a second runtime, under load) is not a stalled operation.</summary>
    public TimeSpan StallAfter => TimeSpan.FromSeconds(15);

    public async Task RunAsync(PolicyRun run, CancellationToken cancellationToken)
    {
        if (!Policies.Contains(run.Policy, StringComparer.Ordinal))
        {
            throw new ArgumentOutOfRangeException(nameof(run), run.Policy, $"Unknown policy of {Name}.");
        }

        using MemoryGroup? group = MemoryGroup.TryCreate("lab-container", Limit, out _, out string why, _controller);
        if (group is null)
        {
            run.NotRun(why);
            return;
        }

        TimeSpan duration = run.Settings.Duration < LongestChild ? run.Settings.Duration : LongestChild;
        (string file, IReadOnlyList<string> prefix) = SelfLaunch.For(typeof(ContainerScenario).Assembly);
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [ContainerChild.EnvironmentVariable] = ContainerChild.Describe(run.Policy, Limit, duration, Math.Min(run.Settings.Threads, 4), Headroom),
        };

        using Process child = group.Start(file, prefix, environment);
        run.Activity("child", $"pid {child.Id} in {group.Path}");
        Task<string> stderr = child.StandardError.ReadToEndAsync(cancellationToken);
        ChildProgress? last = null;
        while (await child.StandardOutput.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (!line.StartsWith('{'))
            {
                continue;
            }

            ChildProgress progress = JsonSerializer.Deserialize(line, ChildJsonContext.Default.ChildProgress)
                ?? throw new InvalidOperationException($"The container child wrote '{line}'.");
            foreach (long ns in progress.LatenciesNs)
            {
                run.Completed(TimeSpan.FromTicks(ns / 100));
            }

            last = progress;
        }

        using (var exit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            exit.CancelAfter(TimeSpan.FromSeconds(15));
            await child.WaitForExitAsync(exit.Token).ConfigureAwait(false);
        }

        int exitCode = child.ExitCode;
        long kills = group.OomKills;
        // Unmanaged is expected to die, by the kernel's SIGKILL (137) or by the runtime's abort on an allocation it
        // cannot make: either is its figure, not the lab's error.
        if (exitCode is not (0 or 137) && run.Policy != "unmanaged")
        {
            throw new InvalidOperationException($"The container child ({run.Policy}) exited with {exitCode}: {(await stderr.ConfigureAwait(false)).Trim()}");
        }

        for (long i = 0; i < kills; i++)
        {
            run.OomKill(wasCause: true); // the kernel's OOM killer: the group has one process, the one that charged past the limit
        }

        long peak = group.PeakUsageBytes;
        run.ObserveUsed(peak);
        run.Figure(FigureNames.Survived, exitCode == 0 && last?.Done == true ? 1 : 0);
        run.Figure("exitCode", exitCode);
        run.Figure("limitBytes", group.LimitBytes);
        run.Figure("peakResidentBytes", peak);
        run.Figure("failcnt", group.FailCount);
        run.Figure("kernelOomKills", kills);
        run.Figure("childOperations", last?.Operations ?? 0);
        run.Figure("peakHeldBytes", last?.PeakHeld ?? 0);
        if (run.Policy == "headroom")
        {
            run.Figure("budgetCapacityBytes", last?.BudgetCapacity ?? 0);
            run.Figure("limitFoundBytes", last?.LimitFound ?? 0);
            run.Figure("refusals", last?.Refusals ?? 0);
            run.Figure("waits", last?.Waits ?? 0);
            run.Figure("waitTimeouts", last?.WaitTimeouts ?? 0);
        }
    }
}
