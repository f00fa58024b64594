namespace Headroom;

/// <summary>How a reclaimer takes part in reclaim. Validated when it is registered.</summary>
public sealed class ReclaimerOptions
{
    /// <summary>Linux's DEFAULT_SEEKS: the cost of an ordinary cache.</summary>
    public const int DefaultCost = 2;

    /// <summary>Gets or sets the reclaim domain ("fs", "btree-cache"); a flow inside <see cref="AllocationScope.NoReclaim"/> for it skips it.</summary>
    /// <value>Required: not empty.</value>
    public string Domain { get; set; } = string.Empty;

    /// <summary>
    /// Gets or sets how dear the reclaimer's objects are to rebuild (Linux's "seeks", 1 to 1000): reclaim asks cheaper
    /// reclaimers first, and dearer ones for proportionally less.
    /// </summary>
    /// <value>The default value is <see cref="DefaultCost"/>.</value>
    public int Cost { get; set; } = DefaultCost;

    /// <summary>Gets or sets whether reclaiming does I/O; a flow inside <see cref="AllocationScope.NoIo"/> skips such reclaimers.</summary>
    public bool DoesIo { get; set; }

    /// <summary>
    /// Gets or sets how long one call may run before it is abandoned for that pass and reported. A finite timeout runs
    /// each call on the thread pool so that it can be abandoned; <see cref="Timeout.InfiniteTimeSpan"/> runs it in the caller.
    /// </summary>
    /// <value>The default value is 5 seconds.</value>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(Domain))
        {
            throw new ArgumentException($"{nameof(ReclaimerOptions)}.{nameof(Domain)} must name the reclaim domain; it was {(Domain is null ? "null" : $"'{Domain}'")}.", nameof(Domain));
        }

        if (Cost is < 1 or > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(Cost), Cost, $"{nameof(ReclaimerOptions)}.{nameof(Cost)} must be between 1 and 1000; it was {Cost}.");
        }

        if (Timeout <= TimeSpan.Zero && Timeout != System.Threading.Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(Timeout), Timeout,
                $"{nameof(ReclaimerOptions)}.{nameof(Timeout)} must be positive or Timeout.InfiniteTimeSpan; it was {Timeout}.");
        }
    }
}
