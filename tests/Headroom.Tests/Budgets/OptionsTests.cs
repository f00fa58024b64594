namespace Headroom.Tests.Budgets;

public sealed class OptionsTests
{
    [Fact]
    public void Default_watermarks_follow_the_Linux_formula()
    {
        const long GiB = 1L << 30;
        using var budget = new MemoryBudget(GiB);

        // min_free_kbytes = sqrt(16 × 1048576 KiB) = 4096 KiB.
        Assert.Equal(4096 * 1024, budget.MinWatermark);
        long step = Math.Max(budget.MinWatermark / 4, GiB * 10 / 10_000);
        Assert.Equal(budget.MinWatermark + step, budget.LowWatermark);
        Assert.Equal(budget.MinWatermark + (2 * step), budget.HighWatermark);
    }

    [Fact]
    public void The_scale_factor_spreads_the_default_watermarks()
    {
        using var budget = new MemoryBudget(new MemoryBudgetOptions { Capacity = 1L << 30, WatermarkScaleFactor = 100 });
        long step = (1L << 30) * 100 / 10_000; // 1 %: larger than min / 4
        Assert.Equal(budget.MinWatermark + step, budget.LowWatermark);
        Assert.Equal(budget.MinWatermark + (2 * step), budget.HighWatermark);
    }

    [Theory]
    [InlineData(1L << 20, 64 * 1024)] // 128 KiB by Linux's clamp, capped at capacity / 16
    [InlineData(64L << 20, 1024 * 1024)] // sqrt(16 × 65536) = 1024 KiB
    [InlineData(1L << 44, 256L * 1024 * 1024)] // sqrt(16 × 2^34 KiB) = 512 MiB, clamped at 256 MiB
    public void The_default_min_is_clamped_and_never_more_than_a_sixteenth(long capacity, long min)
    {
        using var budget = new MemoryBudget(capacity);
        Assert.Equal(min, budget.MinWatermark);
        Assert.True(budget.MinWatermark <= budget.LowWatermark && budget.LowWatermark <= budget.HighWatermark && budget.HighWatermark <= budget.Capacity);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void A_capacity_that_is_not_positive_is_refused_by_name(long capacity)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new MemoryBudget(capacity));
        Assert.Equal("capacity", e.ParamName); // the constructor's parameter: the caller never saw an options object
        Assert.Contains("capacity must be positive", e.Message, StringComparison.Ordinal);
        Assert.Contains(capacity.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3001)]
    public void A_scale_factor_outside_1_to_3000_is_refused(int factor)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new MemoryBudget(new MemoryBudgetOptions { Capacity = 1000, WatermarkScaleFactor = factor }));
        Assert.Equal("WatermarkScaleFactor", e.ParamName);
    }

    [Theory]
    [InlineData(-1L, null, null, "MinWatermark")]
    [InlineData(1001L, null, null, "MinWatermark")]
    [InlineData(100L, 50L, null, "LowWatermark")]
    [InlineData(100L, 200L, 150L, "HighWatermark")]
    [InlineData(100L, 200L, 1001L, "HighWatermark")]
    public void Watermarks_out_of_order_are_refused_by_name(long? min, long? low, long? high, string name)
    {
        var options = new MemoryBudgetOptions { Capacity = 1000, MinWatermark = min, LowWatermark = low, HighWatermark = high };
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new MemoryBudget(options));
        Assert.Equal(name, e.ParamName);
        Assert.Contains(name, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_name_and_a_bad_canary_interval_are_refused()
    {
        Assert.Equal("Name", Assert.Throws<ArgumentException>(() => new MemoryBudget(new MemoryBudgetOptions { Capacity = 10, Name = " " })).ParamName);
        Assert.Equal("CanaryInterval", Assert.Throws<ArgumentOutOfRangeException>(() =>
            new MemoryBudget(new MemoryBudgetOptions { Capacity = 10, CanaryInterval = TimeSpan.Zero })).ParamName);
        Assert.Throws<ArgumentNullException>(() => new MemoryBudget(null!));
    }

    [Fact]
    public void The_options_are_copied_when_the_budget_is_created()
    {
        var options = new MemoryBudgetOptions { Capacity = 1000, MinWatermark = 10, LowWatermark = 20, HighWatermark = 30 };
        using var budget = new MemoryBudget(options);
        options.Capacity = 5;
        options.MinWatermark = 1;
        Assert.Equal(1000, budget.Capacity);
        Assert.Equal(10, budget.MinWatermark);
    }
}
