using System.Text.Json;
using Headroom.Lab.Report;
using Headroom.Lab.Running;
using Headroom.Lab.Scenarios;

namespace Headroom.Lab.Tests;

/// <summary>The command end to end: results.json in the issue's shape, report.md's sections, real PNG charts, and clear errors.</summary>
public sealed class CommandTests
{
    private static readonly string[] MetricNames =
    [
        "operations", "throughputPerSec", "latencyP50Us", "latencyP99Us", "latencyMaxUs", "midTransactionFailures", "rollbacks",
        "stalls", "oomKills", "oomKillsNotCause", "canaryWarnings", "peakUsedBytes", "reservedUnusedBytes", "cpuNsPerOp",
    ];

    [Fact]
    public async Task A_run_writes_results_json_in_the_issues_shape_a_report_with_its_sections_and_png_charts()
    {
        string folder = Path.Combine(Path.GetTempPath(), $"headroom-lab-test-{Guid.NewGuid():N}");
        string extra = Path.Combine(folder, "elsewhere", "copy.json");
        try
        {
            var output = new StringWriter();
            int exit = await LabCommand.RunAsync(
                new LabCommand.Arguments(["atomic-reserve"], [], 0.05, TimeSpan.FromSeconds(0.6), 2, null, 11, 1, folder, extra, Quiet: true),
                output,
                CancellationToken.None);

            Assert.Equal(0, exit);
            Assert.Equal(0, LabThreads.Alive);
            string json = await File.ReadAllTextAsync(Path.Combine(folder, "results.json"));
            Assert.Equal(json, await File.ReadAllTextAsync(extra));

            using JsonDocument doc = JsonDocument.Parse(json);
            JsonElement root = doc.RootElement;
            Assert.Equal(1, root.GetProperty("schemaVersion").GetInt32());
            Assert.Equal(11, root.GetProperty("seed").GetInt32());
            JsonElement machine = root.GetProperty("machine");
            Assert.Equal(Environment.ProcessorCount, machine.GetProperty("cores").GetInt32());
            Assert.False(string.IsNullOrEmpty(machine.GetProperty("os").GetString()));
            Assert.False(string.IsNullOrEmpty(machine.GetProperty("runtime").GetString()));

            JsonElement scenario = Assert.Single(root.GetProperty("scenarios").EnumerateArray());
            Assert.Equal("atomic-reserve", scenario.GetProperty("name").GetString());
            Assert.Equal("default", scenario.GetProperty("variant").GetString());
            Assert.True(scenario.GetProperty("completed").GetBoolean());
            JsonElement[] policies = [.. scenario.GetProperty("policies").EnumerateArray()];
            Assert.Equal(["with-reserve", "no-reserve"], policies.Select(p => p.GetProperty("name").GetString()));
            foreach (JsonElement policy in policies)
            {
                Assert.True(policy.GetProperty("completed").GetBoolean());
                Assert.False(policy.GetProperty("stalled").GetBoolean());
                JsonElement metrics = policy.GetProperty("metrics");
                Assert.Equal(MetricNames.Order(StringComparer.Ordinal), metrics.EnumerateObject().Select(m => m.Name).Order(StringComparer.Ordinal));
                Assert.All(MetricNames, m => Assert.Equal(JsonValueKind.Number, metrics.GetProperty(m).ValueKind));
                Assert.True(metrics.GetProperty("operations").GetInt64() > 0);
            }

            JsonElement[] claims = [.. root.GetProperty("claims").EnumerateArray()];
            Assert.Equal(7, claims.Length);
            foreach (JsonElement claim in claims)
            {
                Assert.False(string.IsNullOrEmpty(claim.GetProperty("who").GetString()));
                Assert.False(string.IsNullOrEmpty(claim.GetProperty("claim").GetString()));
                Assert.Equal(JsonValueKind.Object, claim.GetProperty("figures").ValueKind);
                Assert.Equal(Claims.NotMeasured, claim.GetProperty("verdict").GetString()); // none of their scenarios ran
            }

            string report = await File.ReadAllTextAsync(Path.Combine(folder, "report.md"));
            Assert.StartsWith("# Headroom lab report", report, StringComparison.Ordinal);
            Assert.Contains("## Atomic allocations and the min reserve (GFP_ATOMIC) (`atomic-reserve`)", report, StringComparison.Ordinal);
            Assert.Contains(new AtomicReserveScenarioWhy().Text, report, StringComparison.Ordinal);
            Assert.Contains("| with-reserve | completed |", report, StringComparison.Ordinal);
            Assert.Contains(ReportWriter.ClaimsHeading, report, StringComparison.Ordinal);
            Assert.True(report.IndexOf(ReportWriter.ClaimsHeading, StringComparison.Ordinal) > report.IndexOf("atomic-reserve", StringComparison.Ordinal));
            foreach (string chart in new[] { "latency-atomic-reserve-default.png", "throughput-atomic-reserve-default.png", "memory-atomic-reserve-default.png" })
            {
                Assert.Contains($"]({chart})", report, StringComparison.Ordinal);
                byte[] png = await File.ReadAllBytesAsync(Path.Combine(folder, chart));
                Assert.True(png.Length > 1000, $"{chart} is {png.Length} bytes");
                Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
            }

            Assert.Contains("with-reserve", output.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void An_unknown_scenario_or_policy_is_an_error_that_lists_the_valid_names()
    {
        IReadOnlyList<IScenario> registry = ScenarioRegistry.All();
        var settings = new LabSettings(1, TimeSpan.FromSeconds(1), 2, null, 1);

        LabPlan none = LabSession.Plan(new LabRequest(["no-such-scenario"], [], settings, 1), registry, out string? error);
        Assert.Empty(none.Items);
        Assert.NotNull(error);
        Assert.Contains("'no-such-scenario'", error, StringComparison.Ordinal);
        Assert.All(registry, s => Assert.Contains(s.Name, error, StringComparison.Ordinal));

        LabSession.Plan(new LabRequest(["oom-lock-deadlock"], ["no-such-policy"], settings, 1), registry, out error);
        Assert.NotNull(error);
        Assert.Contains("'no-such-policy'", error, StringComparison.Ordinal);
        Assert.Contains("single-victim, kill-timeout, reaper, reservation", error, StringComparison.Ordinal);

        LabPlan some = LabSession.Plan(new LabRequest([], ["reaper", "loop"], settings, 2), registry, out error);
        Assert.Null(error);
        Assert.Equal(["too-small-to-fail", "oom-lock-deadlock"], some.Items.Select(i => i.Scenario.Name));
        Assert.Equal(4, some.RunCount(2));
    }

    private sealed class AtomicReserveScenarioWhy
    {
        public string Text { get; } = new Headroom.Lab.Scenarios.AtomicReserve.AtomicReserveScenario().Why;
    }
}
