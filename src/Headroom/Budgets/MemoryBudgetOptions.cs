using Headroom.Accounting;
using System.Diagnostics.Metrics;
using Headroom.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Headroom;

/// <summary>
/// Settings for a root <see cref="MemoryBudget"/>: its own level's (<see cref="BudgetLevelOptions"/>) and what its
/// whole tree shares (the clock, logger, canary interval and OOM killer). Children take <see cref="ChildBudgetOptions"/>.
/// </summary>
public sealed class MemoryBudgetOptions : BudgetLevelOptions
{
    /// <summary>
    /// Gets or sets how long a charge may wait before the budget logs a stall warning; at most one warning per
    /// interval for the whole budget tree. <see cref="Timeout.InfiniteTimeSpan"/> turns the canary off.
    /// </summary>
    /// <value>The default value is 10 seconds, Linux's <c>warn_alloc</c> rate.</value>
    public TimeSpan CanaryInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets the tree's clock (the canary, background reclaim's rests, kill timeouts).</summary>
    /// <value>The default value is <see cref="System.TimeProvider.System"/>.</value>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Gets or sets where the tree logs stalls, reclaimer faults and kills.</summary>
    /// <value>The default value (<see langword="null"/>) logs nothing.</value>
    public ILogger? Logger { get; set; }

    /// <summary>
    /// Gets or sets the factory that creates the tree's meter, "Headroom" (from dependency injection: <c>AddMetrics()</c>),
    /// so that its instruments live and end with the container's meters.
    /// </summary>
    /// <value>The default value (<see langword="null"/>) reports through one meter "Headroom" shared by every such tree.</value>
    public IMeterFactory? MeterFactory { get; set; }

    /// <summary>Gets or sets the tree's OOM killer policy and kill timeout.</summary>
    public OomOptions Oom { get; set; } = new();

    /// <summary>
    /// Gets or sets whether returned buffers are filled with a poison pattern that the next rent checks, so that a write
    /// after dispose is caught (an <see cref="InvalidOperationException"/> from that rent). For tests: it costs a fill
    /// and a scan per reuse. A root's setting holds for its tree.
    /// </summary>
    public bool PoisonFreedBuffers { get; set; }

    /// <summary>The tree's meter from <see cref="MeterFactory"/>, or null without one; throws naming the setting when the factory makes no meter "Headroom".</summary>
    internal Meter? CreateMeter()
    {
        if (MeterFactory is null)
        {
            return null;
        }

        Meter? meter = MeterFactory.Create(new MeterOptions(BudgetMeter.MeterName));
        if (meter is null || meter.Name != BudgetMeter.MeterName)
        {
            throw new ArgumentException(
                $"{Kind}.{nameof(MeterFactory)} must create the meter it is asked for (\"{BudgetMeter.MeterName}\"); it returned {(meter is null ? "null" : $"\"{meter.Name}\"")}.",
                nameof(MeterFactory));
        }

        return meter;
    }

    /// <summary>A shallow copy, for factories that set the capacity without changing the caller's options.</summary>
    internal MemoryBudgetOptions Copy() => (MemoryBudgetOptions)MemberwiseClone();

    /// <summary>Checks every setting and derives the watermarks; throws naming the first setting that is wrong.</summary>
    internal Watermarks Validate()
    {
        Watermarks watermarks = ValidateLevel();
        if (CanaryInterval <= TimeSpan.Zero && CanaryInterval != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(CanaryInterval), CanaryInterval,
                $"{Kind}.{nameof(CanaryInterval)} must be positive, or Timeout.InfiniteTimeSpan to turn the canary off; it was {CanaryInterval}.");
        }

        if (TimeProvider is null)
        {
            throw new ArgumentNullException(nameof(TimeProvider), $"{Kind}.{nameof(TimeProvider)} must not be null.");
        }

        if (Oom is null)
        {
            throw new ArgumentNullException(nameof(Oom), $"{Kind}.{nameof(Oom)} must not be null.");
        }

        Oom.Validate();
        return watermarks;
    }
}
