using Microsoft.Extensions.Logging;

namespace Headroom;

/// <summary>
/// Settings for a <see cref="MemoryBudget"/>. Validated once, when the budget is created; a budget copies what it
/// needs, so changing an options object afterwards changes nothing.
/// </summary>
public sealed class MemoryBudgetOptions
{
    /// <summary>The default <see cref="WatermarkScaleFactor"/>: 10 ten-thousandths (0.1 %), as Linux's <c>vm.watermark_scale_factor</c>.</summary>
    public const int DefaultWatermarkScaleFactor = 10;

    /// <summary>The largest <see cref="WatermarkScaleFactor"/>: 3000 (30 %), as Linux allows.</summary>
    public const int MaxWatermarkScaleFactor = 3000;

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

    /// <summary>
    /// Gets or sets how long a charge may wait before the budget logs a stall warning; at most one warning per
    /// interval for the whole budget tree. <see cref="Timeout.InfiniteTimeSpan"/> turns the canary off.
    /// Children use their root's setting.
    /// </summary>
    /// <value>The default value is 10 seconds, Linux's <c>warn_alloc</c> rate.</value>
    public TimeSpan CanaryInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets the clock for the canary. Children use their root's.</summary>
    /// <value>The default value is <see cref="System.TimeProvider.System"/>.</value>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Gets or sets where the budget logs stalls. Children use their root's.</summary>
    /// <value>The default value (<see langword="null"/>) logs nothing.</value>
    public ILogger? Logger { get; set; }

    /// <summary>Gets or sets the OOM killer's policy and kill timeout. Children use their root's.</summary>
    public OomOptions Oom { get; set; } = new();

    /// <summary>
    /// Gets or sets whether returned buffers are filled with a poison pattern that the next rent checks, so that a write
    /// after dispose is caught (an <see cref="InvalidOperationException"/> from that rent). For tests: it costs a fill
    /// and a scan per reuse. A root's setting holds for its tree.
    /// </summary>
    public bool PoisonFreedBuffers { get; set; }

    /// <summary>A shallow copy, for factories that set the capacity without changing the caller's options.</summary>
    internal MemoryBudgetOptions Copy() => (MemoryBudgetOptions)MemberwiseClone();

    /// <summary>Checks every setting and derives the watermarks; throws naming the first setting that is wrong.</summary>
    internal Watermarks Validate()
    {
        if (string.IsNullOrWhiteSpace(Name))
        {
            throw new ArgumentException($"{nameof(MemoryBudgetOptions)}.{nameof(Name)} must not be empty or white space.", nameof(Name));
        }

        if (Capacity <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Capacity), Capacity, $"{nameof(MemoryBudgetOptions)}.{nameof(Capacity)} must be positive; it was {Capacity}.");
        }

        if (WatermarkScaleFactor is < 1 or > MaxWatermarkScaleFactor)
        {
            throw new ArgumentOutOfRangeException(nameof(WatermarkScaleFactor), WatermarkScaleFactor,
                $"{nameof(MemoryBudgetOptions)}.{nameof(WatermarkScaleFactor)} must be between 1 and {MaxWatermarkScaleFactor} (ten-thousandths of the capacity); it was {WatermarkScaleFactor}.");
        }

        if (CanaryInterval <= TimeSpan.Zero && CanaryInterval != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(CanaryInterval), CanaryInterval,
                $"{nameof(MemoryBudgetOptions)}.{nameof(CanaryInterval)} must be positive, or Timeout.InfiniteTimeSpan to turn the canary off; it was {CanaryInterval}.");
        }

        ArgumentNullException.ThrowIfNull(TimeProvider, nameof(TimeProvider));
        ArgumentNullException.ThrowIfNull(Oom, nameof(Oom));
        Oom.Validate();
        return Watermarks.Derive(Capacity, MinWatermark, LowWatermark, HighWatermark, WatermarkScaleFactor);
    }
}
