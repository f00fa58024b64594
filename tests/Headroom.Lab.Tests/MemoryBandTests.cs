using Headroom.Lab.Report;

namespace Headroom.Lab.Tests;

/// <summary>
/// The memory chart's y range: it shows every reading of the run itself and every level line, cuts off only ramp-ups
/// and teardowns (and counts them), and starts at 0 when the lines live near 0.
/// </summary>
public sealed class MemoryBandTests
{
    private const double Capacity = 16;
    private static readonly double[] Levels = [Capacity, Capacity - 0.5, Capacity - 0.625, Capacity - 0.75];

    [Fact]
    public void A_run_near_capacity_is_shown_without_its_ramp_up_and_teardown_which_are_counted()
    {
        double[] ramp = [0, 0, 9.8];
        double[] run = [15.37, 15.5, 15.52, 15.4, 15.5, 15.45, 15.5, 15.51, 15.5, 15.49];
        double[] teardown = [4.3, 0];
        double[] full = [16, 16, 16, 16, 16, 16, 16, 16, 0];
        double[] withReserve = [.. ramp, .. run, .. teardown];

        MemoryBand band = MemoryBand.Of([withReserve, full], Levels);

        Assert.False(band.FromZero);
        Assert.All(run, v => Assert.InRange(v, band.Bottom, band.Top));
        Assert.All(Levels, v => Assert.InRange(v, band.Bottom, band.Top));
        Assert.InRange(16.0, band.Bottom, band.Top);
        Assert.True(band.Bottom > 9.8, $"the ramp-up's 9.8 MiB still pulls the axis down to {band.Bottom}");
        Assert.Equal(ramp.Length + teardown.Length + 1, band.ReadingsBelow);
        Assert.Equal(withReserve.Length + full.Length, band.Readings);
    }

    [Fact]
    public void A_dip_in_the_middle_of_the_run_is_shown()
    {
        double[] line = [0, 15.5, 15.5, 12, 15.5, 15.5, 15.5, 0];

        MemoryBand band = MemoryBand.Of([line], Levels);

        Assert.InRange(12.0, band.Bottom, band.Top);
        Assert.Equal(2, band.ReadingsBelow);
    }

    [Fact]
    public void A_level_below_the_lines_is_shown()
    {
        double[] line = [15.9, 15.95, 16, 15.9];
        double[] levels = [Capacity, 10];

        MemoryBand band = MemoryBand.Of([line], levels);

        Assert.False(band.FromZero);
        Assert.InRange(10.0, band.Bottom, band.Top);
        Assert.All(line, v => Assert.InRange(v, band.Bottom, band.Top));
        Assert.Equal(0, band.ReadingsBelow);
    }

    [Fact]
    public void Lines_that_live_near_zero_start_the_axis_at_zero_and_show_every_reading()
    {
        double[] used = [0, 24, 63, 20, 63, 0, 24, 63, 20, 0];
        double[] reserved = [0, 0, 4, 0, 0, 4, 0, 0, 0, 0];
        double[] levels = [64, 63.5, 63.375, 63.25];

        MemoryBand band = MemoryBand.Of([used, reserved], levels);

        Assert.True(band.FromZero);
        Assert.All(used.Concat(reserved).Concat(levels), v => Assert.InRange(v, band.Bottom, band.Top));
        Assert.Equal(0, band.ReadingsBelow);
    }
}
