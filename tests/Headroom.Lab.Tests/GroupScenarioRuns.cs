using Headroom.Lab.Running;
using Headroom.Lab.Scenarios;
using Headroom.Lab.Scenarios.Container;
using Xunit.Abstractions;

namespace Headroom.Lab.Tests;

/// <summary>The two policies of a scenario whose child runs in a memory group of its own, and the checks every such run shares.</summary>
internal static class GroupScenarioRuns
{
    /// <summary>
    /// Runs unmanaged, then headroom; asserts that neither failed or left threads running and that no group named
    /// <paramref name="groupPrefix"/> is left. Null when the machine cannot make a group (after checking it should not be able to).
    /// </summary>
    internal static async Task<(RunOutcome Unmanaged, RunOutcome Headroom)?> RunBothAsync(IScenario scenario, LabSettings settings, string groupPrefix, ITestOutputHelper output)
    {
        RunOutcome unmanaged = await PolicyRunner.RunAsync(scenario, null, "unmanaged", settings, live: null);
        RunOutcome headroom = await PolicyRunner.RunAsync(scenario, null, "headroom", settings, live: null);
        foreach (RunOutcome o in new[] { unmanaged, headroom })
        {
            output.WriteLine($"{o.Run.Policy}: {o.Run.NotRunReason ?? string.Join(", ", o.Run.Figures.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key} {f.Value}"))}; ops {o.Run.Operations}");
            Assert.Null(o.Error);
            Assert.Empty(o.ThreadsLeftRunning);
        }

        Assert.Empty(Directory.Exists(MemoryGroup.DefaultController)
            ? Directory.GetDirectories(MemoryGroup.DefaultController, $"{groupPrefix}-{Environment.ProcessId}-*")
            : []);
        if (unmanaged.Run.NotRunReason is not null)
        {
            Assert.False(MemoryGroup.ShouldWorkHere, $"this machine should run the scenario: {unmanaged.Run.NotRunReason}");
            Assert.NotNull(headroom.Run.NotRunReason);
            return null;
        }

        return (unmanaged, headroom);
    }
}
