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

    /// <summary>With more policies than this a latency chart draws its legend beside the data, not over it.</summary>
    private const int PoliciesInLegendInside = 4;

    /// <summary>
    /// With more policies than this a memory chart draws one panel per policy: their lines run along the same levels
    /// (Capacity, the watermarks), so a third one already hides the others.
    /// </summary>
    private const int PoliciesInOnePanel = 2;

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
        var palette = new ScottPlot.Palettes.Category10();
        int colour = 0;
        double lowest = double.MaxValue, highest = double.MinValue;
        foreach ((string policy, IReadOnlyList<RunOutcome> runs) in scenario.Runs)
        {
            Color color = palette.GetColor(colour++); // by place among the scenario's policies, as in the memory chart
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

            lowest = Math.Min(lowest, ys[0]);
            highest = Math.Max(highest, ys[^1]);

            var line = plot.Add.Scatter(xs, ys);
            line.LegendText = policy;
            line.MarkerSize = 0;
            line.LineWidth = 2;
            line.Color = color;
            any = true;
        }

        if (!any)
        {
            return false;
        }

        plot.Axes.Left.TickGenerator = highest - lowest >= 3
            ? new ScottPlot.TickGenerators.NumericAutomatic
            {
                MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
                IntegerTicksOnly = true,
                LabelFormatter = y => $"{Math.Pow(10, y):N0}",
            }
            : FewDecades(lowest, highest);
        plot.Title($"{Name(scenario)}: latency distribution");
        plot.XLabel("percentile of operations");
        plot.YLabel("latency (µs, log scale)");
        if (colour > PoliciesInLegendInside)
        {
            // Many policies' legend inside the data hides the low percentiles where the lines start: it goes beside them.
            plot.ShowLegend(Edge.Right);
            plot.SavePng(path, Width + 220, Height);
        }
        else
        {
            plot.ShowLegend(Alignment.UpperLeft);
            plot.SavePng(path, Width, Height);
        }

        return true;
    }

    /// <summary>
    /// Ticks for a log axis over less than three decades, where powers of ten alone leave two labels or fewer: 1, 2, 3 and 5
    /// times each power labelled, the other multiples as minor ticks.
    /// </summary>
    private static ScottPlot.TickGenerators.NumericManual FewDecades(double lowest, double highest)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        for (int decade = (int)Math.Floor(lowest); decade <= (int)Math.Ceiling(highest); decade++)
        {
            for (int multiple = 1; multiple < 10; multiple++)
            {
                double y = Math.Log10(multiple * Math.Pow(10, decade));
                if (multiple is 1 or 2 or 3 or 5)
                {
                    ticks.AddMajor(y, $"{Math.Pow(10, y):N0}");
                }
                else
                {
                    ticks.AddMinor(y);
                }
            }
        }

        return ticks;
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

        // The axis is sized for level labels; slanted ones need the room of their length or they are cut off.
        plot.Axes.Bottom.MinimumSize = policies.Count > 4 ? 100 : 0;
        plot.Axes.Margins(bottom: 0, top: 0.2);
        plot.Title($"{Name(scenario)}: throughput per policy");
        plot.YLabel("operations per second");
        plot.SavePng(path, Width, Height);
        return true;
    }

    private static bool Memory(ScenarioRun scenario, string path)
    {
        var palette = new ScottPlot.Palettes.Category10();
        var lines = new List<MemoryLine>();
        int colour = 0;
        foreach ((string policy, IReadOnlyList<RunOutcome> runs) in scenario.Runs)
        {
            IReadOnlyList<BudgetSample> samples = runs[0].Samples;
            Color color = palette.GetColor(colour++); // by place among the scenario's policies, as in the latency chart
            if (samples.Count == 0)
            {
                continue;
            }

            long capacity = samples.Max(s => s.Capacity);
            string budget = samples.First(s => s.Capacity == capacity).Budget;
            BudgetSample[] mine = [.. samples.Where(s => s.Budget == budget && s.Capacity == capacity)];
            lines.Add(new MemoryLine(
                policy,
                color,
                [.. mine.Select(s => s.Seconds)],
                [.. mine.Select(s => s.Used / MiB)],
                mine.Any(s => s.Reserved > 0) ? [.. mine.Select(s => s.Reserved / MiB)] : null,
                mine[0]));
        }

        if (lines.Count == 0)
        {
            return false;
        }

        BudgetSample l = lines[0].Levels;

        // The levels drawn are the first policy's; when another policy's budget has other levels, the legend says whose they are.
        string of = lines.Any(m => (m.Levels.Capacity, m.Levels.Min, m.Levels.Low, m.Levels.High) != (l.Capacity, l.Min, l.Low, l.High)) ? $" of {lines[0].Policy}" : string.Empty;
        Level[] levels =
        [
            new($"Capacity − High{of}", (l.Capacity - l.High) / MiB, Color.FromHex("#006d6f"), LinePattern.Dotted, 2),
            new($"Capacity − Low{of}", (l.Capacity - l.Low) / MiB, Color.FromHex("#c51b7d"), LinePattern.Dashed, 1.5f),
            new($"Capacity − Min{of}", (l.Capacity - l.Min) / MiB, Colors.Black, LinePattern.DenselyDashed, 1.5f),
            new("Capacity", l.Capacity / MiB, Colors.Black, LinePattern.Solid, 1),
        ];
        double seconds = lines.Max(m => m.Seconds[^1]);
        string title = $"{Name(scenario)}: Used, Reserved and watermarks over time";
        if (lines.Count <= PoliciesInOnePanel)
        {
            var plot = new Plot();
            MemoryBand band = MemoryPanel(plot, lines, levels, seconds);
            plot.Title(band.FromZero ? title : $"{title}\n{Note(band)}", size: band.FromZero ? null : 15);
            plot.XLabel("seconds into the run");
            plot.ShowLegend(Edge.Right);
            plot.Legend.SymbolWidth = 40;
            plot.SavePng(path, Width + 260, Height);
            return true;
        }

        // Many policies in one panel are a tangle: one panel per policy, each on its own band (its y label says where
        // the axis starts) and the same time axis, under a header strip with the title and one legend for all; a row of
        // panels is panelRow strips tall.
        const int panelRow = 3;
        int columns = lines.Count == 4 ? 2 : Math.Min(lines.Count, 3);
        int rows = (lines.Count + columns - 1) / columns;
        int units = 1 + (rows * panelRow);
        var layout = new ScottPlot.MultiplotLayouts.CustomGrid();
        var header = new Plot();
        header.HideAxesAndGrid();
        header.Title(title);
        header.ShowLegend(
            [
                new LegendItem { LabelText = "Used (solid)", LineColor = Colors.DimGray, LineWidth = 3, MarkerSize = 0 },
                new LegendItem { LabelText = "Reserved (dashed)", LineColor = Colors.DimGray, LineWidth = 1.5f, LinePattern = LinePattern.Dashed, MarkerSize = 0 },
                .. levels.Select(v => new LegendItem { LabelText = v.Name, LineColor = v.Color, LineWidth = v.Width, LinePattern = v.Pattern, MarkerSize = 0 }),
            ],
            Alignment.LowerCenter);
        header.Legend.Orientation = Orientation.Horizontal;
        header.Legend.SymbolWidth = 40;
        var figure = new Multiplot(header);
        layout.Set(header, new GridCell(0, 0, units, columns, 1, columns));
        double top = levels[^1].MiB;
        for (int i = 0; i < lines.Count; i++)
        {
            var panel = new Plot();
            MemoryBand band = MemoryPanel(panel, [lines[i]], levels, seconds);
            string name = lines[i].Policy + (lines[i].Used.Contains(top) ? " (reaches Capacity)" : string.Empty);
            panel.Title(band.ReadingsBelow > 0 ? $"{name}: {band.ReadingsBelow} of {band.Readings} readings below the axis" : name, size: 13);
            panel.HideLegend();
            panel.XLabel(i >= lines.Count - columns ? "seconds into the run" : string.Empty);
            figure.AddPlot(panel);
            layout.Set(panel, new GridCell(1 + (i / columns * panelRow), i % columns, units, columns, panelRow, 1));
        }

        figure.Layout = layout;
        figure.SavePng(path, 1400, units * 110);
        return true;
    }

    /// <summary>Draws these policies' Used and Reserved, then the level lines over them, on the band where they live.</summary>
    private static MemoryBand MemoryPanel(Plot plot, IReadOnlyList<MemoryLine> lines, Level[] levels, double seconds)
    {
        MemoryBand band = MemoryBand.Of([.. lines.SelectMany(m => m.Reserved is null ? new[] { m.Used } : [m.Used, m.Reserved])], [.. levels.Select(v => v.MiB)]);
        double capacity = levels[^1].MiB;
        foreach (MemoryLine line in lines)
        {
            var used = plot.Add.Scatter(line.Seconds, line.Used);

            // A line that runs along Capacity would vanish under it: it is drawn wider, Capacity thin over it, and the
            // legend says so.
            used.LegendText = line.Used.Contains(capacity) ? $"{line.Policy} Used (reaches Capacity)" : $"{line.Policy} Used";
            used.MarkerSize = 0;
            used.LineWidth = 3;
            used.Color = line.Color;
            if (line.Reserved is { } r)
            {
                var reserved = plot.Add.Scatter(line.Seconds, r);
                reserved.LegendText = $"{line.Policy} Reserved";
                reserved.MarkerSize = 0;
                reserved.LineWidth = 1.5f;
                reserved.LinePattern = LinePattern.Dashed;
                reserved.Color = line.Color;
            }
        }

        foreach (Level level in levels)
        {
            var drawn = plot.Add.HorizontalLine(level.MiB);
            drawn.LegendText = level.Name;
            drawn.LinePattern = level.Pattern;
            drawn.LineWidth = level.Width;
            drawn.Color = level.Color;
        }

        plot.Axes.SetLimits(-0.02 * seconds, seconds * 1.02, band.Bottom, band.Top);
        plot.YLabel(band.FromZero ? "MiB" : $"MiB (from {band.Bottom:0.###}, not 0)");
        return band;
    }

    private static string Note(MemoryBand band) =>
        $"y axis from {band.Bottom:0.###} MiB, not 0" +
        (band.ReadingsBelow > 0 ? $"; {band.ReadingsBelow} of {band.Readings} readings (ramp-up, teardown) below it" : string.Empty);

    /// <summary>Lines through a policy's budget readings, in MiB, and its first reading for the levels.</summary>
    private sealed record MemoryLine(string Policy, Color Color, double[] Seconds, double[] Used, double[]? Reserved, BudgetSample Levels);

    /// <summary>A horizontal level (Capacity or a watermark) in MiB, and how it is drawn.</summary>
    private sealed record Level(string Name, double MiB, Color Color, LinePattern Pattern, float Width);

    private static string Name(ScenarioRun scenario) =>
        scenario.Result.Variant == "default" ? scenario.Result.Name : $"{scenario.Result.Name} ({scenario.Result.Variant})";
}
