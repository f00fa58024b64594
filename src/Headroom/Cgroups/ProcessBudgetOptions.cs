using System.Globalization;

namespace Headroom;

/// <summary>
/// Settings for <see cref="MemoryBudget.ForProcess(ProcessBudgetOptions?)"/>: how much of the process's real limit
/// to leave to what Headroom does not manage (the GC heap, thread stacks, native libraries, the runtime itself).
/// Set at most one of <see cref="HeadroomBytes"/> and <see cref="HeadroomFraction"/>; with neither, the headroom is
/// <see cref="DefaultHeadroomFraction"/> of the limit.
/// </summary>
/// <remarks>
/// The headroom is fixed when the budget is created, because a budget's capacity is fixed at creation. A live headroom
/// (following the group's usage less Headroom's own bytes, refreshed on a timer and on pressure) would track the GC
/// heap as it grows and shrinks, but needs a budget whose capacity can move under live charges; that is future work.
/// A fixed headroom is also predictable: a service sized for its limit gets the same budget every run.
/// </remarks>
public sealed class ProcessBudgetOptions
{
    /// <summary>The headroom when neither <see cref="HeadroomBytes"/> nor <see cref="HeadroomFraction"/> is set: a quarter of the limit.</summary>
    public const double DefaultHeadroomFraction = 0.25;

    /// <summary>Gets or sets the headroom in bytes: 0 or more, and less than the limit.</summary>
    /// <value>The default value (<see langword="null"/>) uses <see cref="HeadroomFraction"/>.</value>
    public long? HeadroomBytes { get; set; }

    /// <summary>Gets or sets the headroom as a fraction of the limit: at least 0 and below 1.</summary>
    /// <value>The default value (<see langword="null"/>) means <see cref="DefaultHeadroomFraction"/> unless <see cref="HeadroomBytes"/> is set.</value>
    public double? HeadroomFraction { get; set; }

    /// <summary>
    /// Gets or sets the budget's other settings (name, watermarks, canary, logger, OOM killer). Leave
    /// <see cref="BudgetLevelOptions.Capacity"/> at 0: the factory sets it, on a copy, from the limit.
    /// </summary>
    public MemoryBudgetOptions Budget { get; set; } = new() { Name = "process" };

    /// <summary>Checks the settings that do not depend on the limit; throws naming the first one that is wrong.</summary>
    internal void Validate()
    {
        if (HeadroomBytes is not null && HeadroomFraction is not null)
        {
            throw new ArgumentException(
                $"{nameof(ProcessBudgetOptions)}.{nameof(HeadroomBytes)} ({HeadroomBytes}) and {nameof(HeadroomFraction)} ({HeadroomFraction}) are both set; set at most one.", nameof(HeadroomFraction));
        }

        if (HeadroomBytes is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(HeadroomBytes), HeadroomBytes, $"{nameof(ProcessBudgetOptions)}.{nameof(HeadroomBytes)} must be 0 or more; it was {HeadroomBytes}.");
        }

        if (HeadroomFraction is { } f && !(f >= 0 && f < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(HeadroomFraction), HeadroomFraction, string.Create(CultureInfo.InvariantCulture,
                $"{nameof(ProcessBudgetOptions)}.{nameof(HeadroomFraction)} must be at least 0 and below 1; it was {f}."));
        }

        if (Budget is null)
        {
            throw new ArgumentNullException(nameof(Budget), $"{nameof(ProcessBudgetOptions)}.{nameof(Budget)} must not be null.");
        }

        if (Budget.Capacity != 0)
        {
            throw new ArgumentOutOfRangeException($"{nameof(Budget)}.{nameof(BudgetLevelOptions.Capacity)}", Budget.Capacity,
                $"{nameof(ProcessBudgetOptions)}.{nameof(Budget)}.{nameof(BudgetLevelOptions.Capacity)} must be left 0: the capacity is the process's limit less the headroom; it was {Budget.Capacity}.");
        }
    }

    /// <summary>The capacity under <paramref name="limit"/>; throws naming the headroom option when nothing would be left.</summary>
    internal long CapacityUnder(ProcessMemoryLimit limit)
    {
        long headroom = HeadroomBytes ?? (long)Math.Ceiling(limit.LimitBytes * (HeadroomFraction ?? DefaultHeadroomFraction));
        long capacity = limit.LimitBytes - headroom;
        if (capacity <= 0)
        {
            string option = HeadroomBytes is null ? nameof(HeadroomFraction) : nameof(HeadroomBytes);
            object? value = HeadroomBytes is null ? HeadroomFraction ?? DefaultHeadroomFraction : HeadroomBytes;
            throw new ArgumentOutOfRangeException(option, value, string.Create(CultureInfo.InvariantCulture,
                $"{nameof(ProcessBudgetOptions)}.{option} leaves no capacity: a headroom of {headroom} bytes under the process's limit of {limit.LimitBytes} bytes ({limit.Description}); the headroom must be less than the limit."));
        }

        return capacity;
    }
}
