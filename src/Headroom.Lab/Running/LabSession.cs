using System.Runtime.InteropServices;
using Headroom.Lab.Results;
using Headroom.Lab.Scenarios;

namespace Headroom.Lab.Running;

/// <summary>What the command line asked for.</summary>
internal sealed record LabRequest(IReadOnlyList<string> Scenarios, IReadOnlyList<string> Policies, LabSettings Settings, int Repeat);

/// <summary>One (scenario, variant) as run: its results row and the runs behind it, for the charts.</summary>
internal sealed record ScenarioRun(IScenario Scenario, ScenarioResult Result, IReadOnlyDictionary<string, IReadOnlyList<RunOutcome>> Runs);

/// <summary>The planned (scenario, variant, policy) runs, after the names were checked.</summary>
internal sealed record LabPlan(IReadOnlyList<(IScenario Scenario, IReadOnlyList<string> Policies)> Items)
{
    public int RunCount(int repeat) => Items.Sum(i => Math.Max(1, i.Scenario.Variants.Count) * i.Policies.Count) * repeat;
}

/// <summary>Plans and runs the lab: every selected scenario × variant × policy, one after the other, each as a <see cref="PolicyRunner"/> run.</summary>
internal static class LabSession
{
    /// <summary>Checks the names against <paramref name="registry"/>; an unknown one yields an error listing the valid ones.</summary>
    public static LabPlan Plan(LabRequest request, IReadOnlyList<IScenario> registry, out string? error)
    {
        error = null;
        var known = registry.Select(s => s.Name).ToList();
        string[] unknownScenarios = [.. request.Scenarios.Where(n => !known.Contains(n, StringComparer.Ordinal))];
        if (unknownScenarios.Length > 0)
        {
            error = $"Unknown scenario {string.Join(", ", unknownScenarios.Select(n => $"'{n}'"))}. Valid scenarios: {string.Join(", ", known)}.";
            return new LabPlan([]);
        }

        IScenario[] chosen = request.Scenarios.Count == 0 ? [.. registry] : [.. registry.Where(s => request.Scenarios.Contains(s.Name, StringComparer.Ordinal))];
        var policies = chosen.SelectMany(s => s.Policies).Distinct(StringComparer.Ordinal).ToList();
        string[] unknownPolicies = [.. request.Policies.Where(p => !policies.Contains(p, StringComparer.Ordinal))];
        if (unknownPolicies.Length > 0)
        {
            error = $"Unknown policy {string.Join(", ", unknownPolicies.Select(n => $"'{n}'"))} for the chosen scenarios. Valid policies: " +
                string.Join("; ", chosen.Select(s => $"{s.Name}: {string.Join(", ", s.Policies)}")) + ".";
            return new LabPlan([]);
        }

        var items = new List<(IScenario, IReadOnlyList<string>)>();
        foreach (IScenario scenario in chosen)
        {
            string[] run = request.Policies.Count == 0 ? [.. scenario.Policies] : [.. scenario.Policies.Where(p => request.Policies.Contains(p, StringComparer.Ordinal))];
            if (run.Length > 0)
            {
                items.Add((scenario, run));
            }
        }

        return new LabPlan(items);
    }

    public static async Task<List<ScenarioRun>> RunAsync(LabPlan plan, LabRequest request, LiveState live, CancellationToken cancellationToken)
    {
        var results = new List<ScenarioRun>();
        live.Total = plan.RunCount(request.Repeat);
        foreach ((IScenario scenario, IReadOnlyList<string> policies) in plan.Items)
        {
            await scenario.WarmUpAsync(request.Settings, cancellationToken).ConfigureAwait(false);
            IReadOnlyList<string?> variants = scenario.Variants.Count == 0 ? [null] : [.. scenario.Variants];
            foreach (string? variant in variants)
            {
                var runs = new Dictionary<string, IReadOnlyList<RunOutcome>>(StringComparer.Ordinal);
                var rows = new List<PolicyResult>();
                foreach (string policy in policies)
                {
                    var repeats = new List<RunOutcome>();
                    for (int i = 0; i < request.Repeat && !cancellationToken.IsCancellationRequested; i++)
                    {
                        repeats.Add(await PolicyRunner.RunAsync(scenario, variant, policy, request.Settings, live).ConfigureAwait(false));
                        live.Done++;
                    }

                    if (repeats.Count > 0)
                    {
                        runs[policy] = repeats;
                        rows.Add(Summary.Summarise(policy, repeats));
                    }
                }

                var result = new ScenarioResult
                {
                    Name = scenario.Name,
                    Variant = variant ?? "default",
                    Title = scenario.Title,
                    Completed = rows.Count == policies.Count && rows.All(r => r.ThreadsLeftRunning.Count == 0 && r.Error is null && !r.DeadlineReached),
                    Policies = rows,
                    NotRunReason = rows.Count > 0 && rows.All(r => r.NotRunReason is not null) ? rows[0].NotRunReason : null,
                };
                results.Add(new ScenarioRun(scenario, result, runs));
            }
        }

        return results;
    }

    public static MachineInfo Machine() =>
        new(Environment.ProcessorCount, RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription);
}
