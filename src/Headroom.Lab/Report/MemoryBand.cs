namespace Headroom.Lab.Report;

/// <summary>
/// The y range of a memory-over-time chart: the band where the lines spend the run, up to a little above Capacity.
/// A line's ramp-up (its readings before it first reaches its usual level) and its teardown (after it last leaves it)
/// pass through the whole range in a few readings; letting them pull the axis to 0 squeezes the run itself, near
/// Capacity and the watermarks, into the top of the chart. So the band's floor is the lowest reading between the
/// ramp-up and the teardown, or a level line if that is lower; the readings left below it are counted for the chart's note.
/// </summary>
/// <param name="Bottom">The axis's lower limit (MiB).</param>
/// <param name="Top">The axis's upper limit (MiB).</param>
/// <param name="ReadingsBelow">Plotted readings below <paramref name="Bottom"/> (ramp-ups and teardowns).</param>
/// <param name="Readings">Plotted readings in all.</param>
internal sealed record MemoryBand(double Bottom, double Top, int ReadingsBelow, int Readings)
{
    /// <summary>
    /// A line's usual level is its median; its ramp-up ends at its first reading within this fraction of the median,
    /// its teardown begins after its last one.
    /// </summary>
    private const double Settled = 0.9;

    /// <summary>When the floor is below this fraction of the top, the band starts at 0: cutting would gain little.</summary>
    private const double WorthCutting = 0.25;

    /// <summary>Room kept above and below the band, as a fraction of its height.</summary>
    private const double Margin = 0.04;

    /// <summary>Gets a value indicating whether the axis starts at 0 (within its margin), so the chart needs no note.</summary>
    public bool FromZero => Bottom <= 0;

    /// <summary>The band for these plotted lines (each a run of readings in time order) and level lines (Capacity, watermarks).</summary>
    public static MemoryBand Of(IReadOnlyList<IReadOnlyList<double>> lines, IReadOnlyList<double> levels)
    {
        double top = lines.SelectMany(l => l).Concat(levels).DefaultIfEmpty(0).Max();
        double floor = levels.DefaultIfEmpty(top).Min();
        foreach (IReadOnlyList<double> line in lines.Where(l => l.Count > 0))
        {
            floor = Math.Min(floor, SettledLow(line));
        }

        int readings = lines.Sum(l => l.Count);
        if (floor < WorthCutting * top)
        {
            double below = Margin * top;
            return new MemoryBand(-below, top + below, 0, readings);
        }

        double margin = Margin * Math.Max(top - floor, top * 0.01);
        double bottom = floor - margin;
        return new MemoryBand(bottom, top + margin, lines.Sum(l => l.Count(v => v < bottom)), readings);
    }

    /// <summary>The lowest reading of a line between its ramp-up and its teardown.</summary>
    private static double SettledLow(IReadOnlyList<double> line)
    {
        double[] sorted = [.. line.Order()];
        double threshold = Settled * sorted[sorted.Length / 2];
        int first = 0;
        while (line[first] < threshold)
        {
            first++;
        }

        int last = line.Count - 1;
        while (line[last] < threshold)
        {
            last--;
        }

        double low = double.MaxValue;
        for (int i = first; i <= last; i++)
        {
            low = Math.Min(low, line[i]);
        }

        return low;
    }
}
