using Headroom.Lab.Report;
using Headroom.Lab.Results;
using Headroom.Lab.Running;
using Headroom.Lab.Scenarios.Container;
using Headroom.Lab.Scenarios.Service;
using Xunit.Abstractions;

namespace Headroom.Lab.Tests;

/// <summary>Scenario 7 at a small size against the real kernel: a Kestrel child in a memory group under more concurrent uploads than it holds.</summary>
public sealed class ServiceScenarioTests(ITestOutputHelper output)
{
    private static readonly LabSettings Small = new(Size: 0.05, Duration: TimeSpan.FromSeconds(6), Threads: 2, Capacity: null, Seed: 7); // long enough for uploads on a loaded machine; the run's deadline (12 s) leaves room for the server's start

    [Fact]
    public async Task Unmanaged_fails_requests_or_dies_while_headroom_answers_each_200_or_503_and_stays_under_the_limit()
    {
        var scenario = new ServiceScenario();
        if (await GroupScenarioRuns.RunBothAsync(scenario, Small, "headroom-lab-service", output) is not (RunOutcome unmanaged, RunOutcome headroom))
        {
            return; // no memory group on this machine, and it should not have one
        }

        IReadOnlyDictionary<string, double> u = unmanaged.Run.Figures, h = headroom.Run.Figures;
        double limit = ServiceScenario.Limit;
        Assert.True(u["failed"] > 0 || u[FigureNames.Survived] == 0, "the unmanaged server neither failed a request nor died: the load proves nothing");

        Assert.Equal(1, h[FigureNames.Survived]);
        Assert.Equal(0, h["exitCode"]);
        Assert.Equal(0, h["kernelOomKills"]);
        Assert.Equal(0, h["failed"]); // every request answered 200 or 503 with Retry-After
        Assert.True(h["ok"] > 0, "no upload was admitted");
        Assert.Equal(headroom.Run.Operations, (long)h["ok"]);
        Assert.True(h["peakResidentBytes"] < limit, $"headroom peaked at {h["peakResidentBytes"]} of {limit}");
        Assert.Equal(limit, h["limitFoundBytes"]); // the child found its group's limit itself
        Assert.Equal(limit - ServiceScenario.Headroom, h["budgetCapacityBytes"]);
        Assert.Equal("completed", ResultCells.Outcome(Summary.Summarise("headroom", [headroom])));
    }

    [Fact]
    public async Task Where_no_group_can_be_made_both_policies_are_not_run_here_with_the_reason()
    {
        var scenario = new ServiceScenario(controller: "/nonexistent/memory");
        foreach (string policy in scenario.Policies)
        {
            RunOutcome o = await PolicyRunner.RunAsync(scenario, null, policy, Small, live: null);
            Assert.Null(o.Error);
            PolicyResult result = Summary.Summarise(policy, [o]);
            Assert.Equal("no cgroup v1 memory controller at /nonexistent/memory (no memory.limit_in_bytes there)", result.NotRunReason);
            Assert.Equal("not run here", ResultCells.Outcome(result));
        }
    }
}
