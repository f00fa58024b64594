using System.Text.Json;
using Headroom.Lab.Report;
using Headroom.Lab.Results;
using Headroom.Lab.Running;
using Headroom.Lab.Scenarios.Container;
using Xunit.Abstractions;

namespace Headroom.Lab.Tests;

/// <summary>Scenario 6 at a small size against the real kernel: unmanaged is OOM-killed, headroom survives, and the group is gone afterwards.</summary>
public sealed class ContainerScenarioTests(ITestOutputHelper output)
{
    private static readonly LabSettings Small = new(Size: 0.05, Duration: TimeSpan.FromSeconds(1), Threads: 2, Capacity: null, Seed: 7);

    [Fact]
    public async Task Unmanaged_child_is_killed_by_the_kernel_and_the_process_budget_survives_the_same_workload()
    {
        var scenario = new ContainerScenario();
        if (await GroupScenarioRuns.RunBothAsync(scenario, Small, "headroom-lab-container", output) is not (RunOutcome unmanaged, RunOutcome headroom))
        {
            return; // no memory group on this machine, and it should not have one
        }

        IReadOnlyDictionary<string, double> u = unmanaged.Run.Figures, h = headroom.Run.Figures;
        double limit = ContainerScenario.Limit;
        Assert.Equal(0, u[FigureNames.Survived]);
        Assert.Equal(137, u["exitCode"]); // SIGKILL from the kernel's OOM killer
        Assert.True(u["kernelOomKills"] >= 1, "memory.oom_control counted no kill");
        Assert.True(u["failcnt"] > 0, "memory.failcnt counted no charge at the limit");
        Assert.True(u["peakResidentBytes"] >= limit * 0.95, $"unmanaged peaked at {u["peakResidentBytes"]} of {limit}");
        Assert.True(unmanaged.Run.Operations > 0, "the killed child reported no operation before it died");
        Assert.Equal(u["kernelOomKills"], unmanaged.Run.OomKills);

        Assert.Equal(1, h[FigureNames.Survived]);
        Assert.Equal(0, h["exitCode"]);
        Assert.Equal(0, h["kernelOomKills"]);
        Assert.Equal(0, headroom.Run.OomKills);
        Assert.True(h["peakResidentBytes"] < limit, $"headroom peaked at {h["peakResidentBytes"]} of {limit}");
        Assert.Equal(limit, h["limitFoundBytes"]); // the child found its group's limit itself, through /proc/self/cgroup
        Assert.Equal(limit - ContainerScenario.Headroom, h["budgetCapacityBytes"]);
        Assert.True(h["peakHeldBytes"] <= h["budgetCapacityBytes"], "the child held more than its budget");
        Assert.True(h["refusals"] + h["waits"] > 0, "the workload never asked for more than the budget: the test proves nothing");
        Assert.True(headroom.Run.Operations > unmanaged.Run.Operations, $"headroom {headroom.Run.Operations} ops, unmanaged {unmanaged.Run.Operations}");
        Assert.Equal(headroom.Run.Operations, (long)h["childOperations"]);
        Assert.Equal("killed", ResultCells.Outcome(Summary.Summarise("unmanaged", [unmanaged])));
        Assert.Equal("completed", ResultCells.Outcome(Summary.Summarise("headroom", [headroom])));
    }

    [Fact]
    public async Task Where_no_group_can_be_made_both_policies_are_not_run_here_with_the_reason_in_the_table_and_results_json()
    {
        var scenario = new ContainerScenario(controller: "/nonexistent/memory");
        var results = new List<PolicyResult>();
        foreach (string policy in scenario.Policies)
        {
            RunOutcome o = await PolicyRunner.RunAsync(scenario, null, policy, Small, live: null);
            Assert.Null(o.Error);
            results.Add(Summary.Summarise(policy, [o]));
        }

        Assert.All(results, r =>
        {
            Assert.Equal("no cgroup v1 memory controller at /nonexistent/memory (no memory.limit_in_bytes there)", r.NotRunReason);
            Assert.Equal("not run here", ResultCells.Outcome(r));
            Assert.Equal(0, r.Metrics.Operations);
        });

        var lab = new LabResults
        {
            Machine = new MachineInfo(2, "os", "rt"),
            Scenarios = [new ScenarioResult { Name = scenario.Name, Variant = "default", Policies = results, NotRunReason = results[0].NotRunReason }],
            Settings = new RunSettings(1, 1, 2, null, 1),
        };
        using JsonDocument json = JsonDocument.Parse(JsonSerializer.Serialize(lab, ResultsJsonContext.Default.LabResults));
        JsonElement s = json.RootElement.GetProperty("scenarios")[0];
        Assert.StartsWith("no cgroup v1 memory controller", s.GetProperty("notRunReason").GetString(), StringComparison.Ordinal);
        Assert.All(s.GetProperty("policies").EnumerateArray(), p => Assert.StartsWith("no cgroup", p.GetProperty("notRunReason").GetString(), StringComparison.Ordinal));
    }
}
