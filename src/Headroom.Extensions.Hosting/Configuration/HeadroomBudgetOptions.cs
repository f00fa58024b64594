namespace Headroom.Extensions.Hosting;

/// <summary>
/// One child budget of <see cref="HeadroomOptions.Budgets"/>, named by its key: its parent, capacity and watermarks
/// (as <see cref="ChildBudgetOptions"/>; the clock, logger, canary and OOM killer are the tree's).
/// </summary>
public sealed class HeadroomBudgetOptions
{
    /// <summary>Gets or sets the parent's name: the root's, or another entry of <see cref="HeadroomOptions.Budgets"/>.</summary>
    /// <value>The default value (<see langword="null"/>) is the root.</value>
    public string? Parent { get; set; }

    /// <summary>Gets or sets the limit in bytes: positive and not above the parent's.</summary>
    public long Capacity { get; set; }

    /// <summary>Gets or sets the min watermark in bytes (<see cref="BudgetLevelOptions.MinWatermark"/>).</summary>
    public long? MinWatermark { get; set; }

    /// <summary>Gets or sets the low watermark in bytes (<see cref="BudgetLevelOptions.LowWatermark"/>).</summary>
    public long? LowWatermark { get; set; }

    /// <summary>Gets or sets the high watermark in bytes (<see cref="BudgetLevelOptions.HighWatermark"/>).</summary>
    public long? HighWatermark { get; set; }

    /// <summary>Gets or sets the distance between default watermarks (<see cref="BudgetLevelOptions.WatermarkScaleFactor"/>).</summary>
    public int WatermarkScaleFactor { get; set; } = BudgetLevelOptions.DefaultWatermarkScaleFactor;
}
