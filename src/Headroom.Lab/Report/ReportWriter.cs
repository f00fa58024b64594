using System.Globalization;
using System.Text;
using Headroom.Lab.Results;
using Headroom.Lab.Running;

namespace Headroom.Lab.Report;

/// <summary>Writes report.md: per scenario what was run and why, its table and charts; then the claims and what was measured.</summary>
internal static class ReportWriter
{
    public const string ClaimsHeading = "## What the article claimed, and what we measured";

    public static string Render(LabResults results, IReadOnlyList<ScenarioRun> runs, IReadOnlyDictionary<ScenarioRun, List<Chart>> charts)
    {
        var md = new StringBuilder();
        md.AppendLine("# Headroom lab report").AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Run at {results.StartedAt:yyyy-MM-dd HH:mm:ss} UTC on {results.Machine.Cores} cores, {results.Machine.Os}, {results.Machine.Runtime}; " +
            $"seed {results.Seed}, size {results.Settings.Size}, at most {results.Settings.DurationSeconds:0.###} s per policy, {results.Settings.Threads} threads, " +
            $"{(results.Settings.Capacity is { } c ? $"capacity {ResultCells.Bytes(c)}" : "each scenario's own capacity")}, {results.Settings.Repeat} repeat(s); wall time {results.WallSeconds:F1} s.").AppendLine();
        md.AppendLine("Every policy gets the same seed, so the same workload: policies differ only in policy. A run that stops making progress is declared " +
            "stalled by its watchdog, which writes who was blocked on what from the library's own state, and is then unwound. \"mid-tx fail\" counts " +
            "allocations that failed in the middle of an operation that had already changed state; \"OOM kills (not cause)\" counts victims, and in " +
            "brackets those that were not the consumer that caused the shortage; \"reserved unused\" counts bytes held in reserve (preallocated, " +
            "reserved, pooled) that the operation never used.").AppendLine();

        foreach (ScenarioRun run in runs)
        {
            ScenarioResult s = run.Result;
            md.AppendLine(CultureInfo.InvariantCulture, $"## {run.Scenario.Title} (`{s.Name}`{(s.Variant == "default" ? string.Empty : $", {s.Variant}")})").AppendLine();
            md.AppendLine(run.Scenario.Why).AppendLine();
            foreach (PolicyResult p in s.Policies.Where(p => p.NotRunReason is not null))
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"- `{p.Name}`: not run here: {p.NotRunReason}").AppendLine();
            }

            md.AppendLine("| " + string.Join(" | ", ResultCells.Header) + " |");
            md.AppendLine("|" + string.Concat(Enumerable.Repeat("---|", ResultCells.Header.Length)));
            foreach (PolicyResult p in s.Policies)
            {
                md.AppendLine("| " + string.Join(" | ", ResultCells.Cells(p)) + " |");
            }

            md.AppendLine();
            foreach (PolicyResult p in s.Policies.Where(p => p.Figures.Count > 0))
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"- `{p.Name}` figures: {ResultCells.Figures(p)}");
            }

            foreach (PolicyResult p in s.Policies.Where(p => p.Error is not null || p.ThreadsLeftRunning.Count > 0))
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"- `{p.Name}`: {p.Error ?? string.Empty} {string.Join("; ", p.ThreadsLeftRunning)}");
            }

            md.AppendLine();
            foreach (PolicyResult p in s.Policies.Where(p => p.StallReport is not null))
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"<details><summary>Stall report of <code>{p.Name}</code></summary>").AppendLine();
                md.AppendLine("```").AppendLine(p.StallReport).AppendLine("```").AppendLine("</details>").AppendLine();
            }

            if (charts.TryGetValue(run, out List<Chart>? list))
            {
                foreach (Chart chart in list)
                {
                    md.AppendLine(CultureInfo.InvariantCulture, $"![{chart.Caption}]({chart.File})").AppendLine();
                }
            }
        }

        md.AppendLine(ClaimsHeading).AppendLine();
        md.AppendLine("Each verdict is computed from the figures beside it by the rule under the table; a claim whose scenario was not run is \"not measured\".").AppendLine();
        md.AppendLine("| who | claim | measured | verdict |");
        md.AppendLine("|---|---|---|---|");
        foreach (ClaimResult claim in results.Claims)
        {
            string figures = claim.Figures.Count == 0 ? "—" : string.Join("<br>", claim.Figures.Select(f => $"{f.Key} = {ResultCells.Number(f.Value)}"));
            md.AppendLine(CultureInfo.InvariantCulture, $"| {claim.Who} | {claim.Claim.Replace("|", "\\|", StringComparison.Ordinal)} | {figures} | **{claim.Verdict}** |");
        }

        md.AppendLine().AppendLine("Rules:").AppendLine();
        foreach (ClaimResult claim in results.Claims)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"- {claim.Who}, \"{claim.Claim}\": {claim.Rule}.");
        }

        return md.ToString();
    }
}
