using System.Diagnostics;
using Headroom.Lab.Running;
using ScottPlot;

namespace Headroom.Lab.Report;

/// <summary>A chart written for a scenario: its file name in the report folder and what it shows.</summary>
internal sealed record Chart(string File, string Caption);

/// <summary>
/// The report's PNG charts, for any (scenario, variant): latency distribution per policy, throughput per policy, and
/// Used, Reserved and the watermarks over time for every policy whose run watched a budget.
/// </summary>
internal static class Charts
{
    private const int Width = 900;
    private const int Height = 520;
    private const double MiB = 1 << 20;

    public static List<Chart> Write(ScenarioRun scenario, string folder)
    {
        string stem = $"{scenario.Result.Name}-{scenario.Result.Variant}";
        var charts = new List<Chart>();
        if (Latency(scenario, Path.Combine(folder, $"latency-{stem}.png")))
        {
            charts.Add(new Chart($"latency-{stem}.png", "Latency distribution per policy (percentile of operations against latency, log scale)"));
        }

        if (Throughput(scenario, Path.Combine(folder, $"throughput-{stem}.png")))
        {
            charts.Add(new Chart($"throughput-{stem}.png", "Throughput per policy (operations per second)"));
        }

        if (Memory(scenario, Path.Combine(folder, $"memory-{stem}.png")))
        {
            charts.Add(new Chart($"memory-{stem}.png", "Used (solid) and Reserved (dashed) over time per policy, with the watermark levels (Capacity − Min / Low / High)"));
        }

        return charts;
    }

    private static bool Latency(ScenarioRun scenario, string path)
    {
        var plot = new Plot();
        bool any = false;
        foreach ((string policy, IReadOnlyList<RunOutcome> runs) in scenario.Runs)
        {
            long[] ticks = [.. runs.SelectMany(r => r.Run.LatencyTicks())];
            if (ticks.Length == 0)
            {
                continue;
            }

            Array.Sort(ticks);
            const int points = 200;
            double[] xs = new double[points], ys = new double[points];
            for (int i = 0; i < points; i++)
            {
                double p = i / (double)(points - 1);
                xs[i] = p * 100;
                long t = ticks[Math.Clamp((int)Math.Ceiling(p * ticks.Length) - 1, 0, ticks.Length - 1)];
                ys[i] = Math.Log10(Math.Max(1, t * 1e6 / Stopwatch.Frequency));
            }

            var line = plot.Add.Scatter(xs, ys);
            line.LegendText = policy;
            line.MarkerSize = 0;
            line.LineWidth = 2;
            any = true;
        }

        if (!any)
        {
            return false;
        }

        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = y => $"{Math.Pow(10, y):N0}",
        };
        plot.Title($"{Name(scenario)}: latency distribution");
        plot.XLabel("percentile of operations");
        plot.YLabel("latency (µs, log scale)");
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, Width, Height);
        return true;
    }

    private static bool Throughput(ScenarioRun scenario, string path)
    {
        var policies = scenario.Result.Policies;
        if (policies.Count == 0)
        {
            return false;
        }

        var plot = new Plot();
        double[] values = [.. policies.Select(p => p.Metrics.ThroughputPerSec)];
        var bars = plot.Add.Bars(values);
        for (int i = 0; i < bars.Bars.Count; i++)
        {
            bars.Bars[i].Label = ResultCells.Number(values[i]) + (policies[i].Stalled ? " (stalled)" : string.Empty);
        }

        bars.ValueLabelStyle.FontSize = 14;
        Tick[] ticks = [.. policies.Select((p, i) => new Tick(i, p.Name))];
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks);
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.Bottom.TickLabelStyle.Rotation = policies.Count > 4 ? 30 : 0;
        plot.Axes.Bottom.TickLabelStyle.Alignment = policies.Count > 4 ? Alignment.MiddleLeft : Alignment.UpperCenter;
        plot.Axes.Margins(bottom: 0, top: 0.2);
        plot.Title($"{Name(scenario)}: throughput per policy");
        plot.YLabel("operations per second");
        plot.SavePng(path, Width, Height);
        return true;
    }

    private static bool Memory(ScenarioRun scenario, string path)
    {
        var plot = new Plot();
        bool any = false;
        BudgetSample? levels = null;
        var palette = new ScottPlot.Palettes.Category10();
        int colour = 0;
        foreach ((string policy, IReadOnlyList<RunOutcome> runs) in scenario.Runs)
        {
            IReadOnlyList<BudgetSample> samples = runs[0].Samples;
            if (samples.Count == 0)
            {
                continue;
            }

            long capacity = samples.Max(s => s.Capacity);
            string budget = samples.First(s => s.Capacity == capacity).Budget;
            BudgetSample[] mine = [.. samples.Where(s => s.Budget == budget && s.Capacity == capacity)];
            levels ??= mine[0];
            Color color = palette.GetColor(colour++);
            var used = plot.Add.Scatter(mine.Select(s => s.Seconds).ToArray(), mine.Select(s => s.Used / MiB).ToArray());
            used.LegendText = $"{policy} Used";
            used.MarkerSize = 0;
            used.LineWidth = 2;
            used.Color = color;
            if (mine.Any(s => s.Reserved > 0))
            {
                var reserved = plot.Add.Scatter(mine.Select(s => s.Seconds).ToArray(), mine.Select(s => s.Reserved / MiB).ToArray());
                reserved.LegendText = $"{policy} Reserved";
                reserved.MarkerSize = 0;
                reserved.LineWidth = 1.5f;
                reserved.LinePattern = LinePattern.Dashed;
                reserved.Color = color;
            }

            any = true;
        }

        if (!any || levels is not { } l)
        {
            return false;
        }

        foreach ((string name, long free) in new[] { ("Min", l.Min), ("Low", l.Low), ("High", l.High) })
        {
            var line = plot.Add.HorizontalLine((l.Capacity - free) / MiB);
            line.LegendText = $"Capacity − {name}";
            line.LinePattern = LinePattern.Dotted;
            line.Color = Colors.Gray;
        }

        var cap = plot.Add.HorizontalLine(l.Capacity / MiB);
        cap.LegendText = "Capacity";
        cap.Color = Colors.Black;
        plot.Title($"{Name(scenario)}: Used, Reserved and watermarks over time");
        plot.XLabel("seconds into the run");
        plot.YLabel("MiB");
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(path, Width, Height);
        return true;
    }

    private static string Name(ScenarioRun scenario) =>
        scenario.Result.Variant == "default" ? scenario.Result.Name : $"{scenario.Result.Name} ({scenario.Result.Variant})";
}
