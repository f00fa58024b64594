using Headroom.Accounting;
namespace Headroom;

/// <summary>
/// What every level of a budget tree sets for itself: its name, capacity and watermarks. A root takes
/// <see cref="MemoryBudgetOptions"/>, which add what the whole tree shares; a child takes <see cref="ChildBudgetOptions"/>.
/// Validated once, when the budget is created; a budget copies what it needs, so changing an options object afterwards
/// changes nothing.
/// </summary>
public abstract class BudgetLevelOptions
{
    /// <summary>The default <see cref="WatermarkScaleFactor"/>: 10 ten-thousandths (0.1 %), as Linux's <c>vm.watermark_scale_factor</c>.</summary>
    public const int DefaultWatermarkScaleFactor = 10;

    /// <summary>The largest <see cref="WatermarkScaleFactor"/>: 3000 (30 %), as Linux allows.</summary>
    public const int MaxWatermarkScaleFactor = 3000;

    // Only the two kinds of level derive from this class.
    private protected BudgetLevelOptions()
    {
    }

    /// <summary>Gets or sets the budget's name, used in logs, exceptions and reports.</summary>
    /// <value>The default value is <c>"budget"</c>.</value>
    public string Name { get; set; } = "budget";

    /// <summary>Gets or sets the limit, in bytes. Must be positive; a child's may not exceed its parent's.</summary>
    public long Capacity { get; set; }

    /// <summary>
    /// Gets or sets the min watermark in bytes: free memory that only urgent callers may take.
    /// </summary>
    /// <value>
    /// The default value (<see langword="null"/>) follows Linux's <c>min_free_kbytes</c>: √(16 × capacity in KiB) KiB,
    /// clamped to [128 KiB, 256 MiB], and (Headroom's addition, so that small budgets stay usable) never more than
    /// capacity / 16.
    /// </value>
    public long? MinWatermark { get; set; }

    /// <summary>Gets or sets the low watermark in bytes: a grant leaving less free memory wakes background reclaim.</summary>
    /// <value>The default value (<see langword="null"/>) is min + max(min / 4, capacity × <see cref="WatermarkScaleFactor"/> / 10000).</value>
    public long? LowWatermark { get; set; }

    /// <summary>Gets or sets the high watermark in bytes: background reclaim works until this much memory is free.</summary>
    /// <value>The default value (<see langword="null"/>) is min + 2 × max(min / 4, capacity × <see cref="WatermarkScaleFactor"/> / 10000).</value>
    public long? HighWatermark { get; set; }

    /// <summary>Gets or sets the distance between default watermarks, in ten-thousandths of the capacity: 1 to 3000.</summary>
    /// <value>The default value is <see cref="DefaultWatermarkScaleFactor"/>.</value>
    public int WatermarkScaleFactor { get; set; } = DefaultWatermarkScaleFactor;

    /// <summary>The options type's name, for messages: the caller set a property of this type.</summary>
    private protected string Kind => GetType().Name;

    /// <summary>Checks the settings every level has and derives the watermarks; throws naming the first that is wrong.</summary>
    internal Watermarks ValidateLevel()
    {
        if (string.IsNullOrWhiteSpace(Name))
        {
            throw new ArgumentException($"{Kind}.{nameof(Name)} must not be null, empty or white space; it was {(Name is null ? "null" : $"'{Name}'")}.", nameof(Name));
        }

        if (Capacity <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Capacity), Capacity, $"{Kind}.{nameof(Capacity)} must be positive; it was {Capacity}.");
        }

        if (WatermarkScaleFactor is < 1 or > MaxWatermarkScaleFactor)
        {
            throw new ArgumentOutOfRangeException(nameof(WatermarkScaleFactor), WatermarkScaleFactor,
                $"{Kind}.{nameof(WatermarkScaleFactor)} must be between 1 and {MaxWatermarkScaleFactor} (ten-thousandths of the capacity); it was {WatermarkScaleFactor}.");
        }

        return Watermarks.Derive(Kind, Capacity, MinWatermark, LowWatermark, HighWatermark, WatermarkScaleFactor);
    }
}
