namespace Headroom.AspNetCore;

/// <summary>The settings of a <see cref="MemoryRateLimiter"/>.</summary>
public sealed class MemoryRateLimiterOptions
{
    /// <summary>
    /// Gets or sets the bytes one permit stands for; positive. Default 1 (a permit is a byte). ASP.NET Core's
    /// rate-limiting middleware and Polly's strategy acquire one permit per call, so set this to a call's worst case.
    /// </summary>
    public long BytesPerPermit { get; set; } = 1;

    /// <summary>Gets or sets the most permits that may wait in the queue at once; not negative. Default 0: an acquire that cannot be granted at once fails at once.</summary>
    public int QueueLimit { get; set; }

    /// <summary>Gets or sets the retry-after metadata of a failed lease, if any.</summary>
    public TimeSpan? RetryAfter { get; set; }

    /// <summary>Gets or sets the clock of <see cref="System.Threading.RateLimiting.RateLimiter.IdleDuration"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    internal void Validate()
    {
        if (BytesPerPermit <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(BytesPerPermit), BytesPerPermit, $"{nameof(MemoryRateLimiterOptions)}.{nameof(BytesPerPermit)} must be positive; it was {BytesPerPermit}.");
        }

        if (QueueLimit < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(QueueLimit), QueueLimit, $"{nameof(MemoryRateLimiterOptions)}.{nameof(QueueLimit)} must not be negative; it was {QueueLimit}.");
        }

        if (RetryAfter is { } retryAfter && retryAfter < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(RetryAfter), retryAfter, $"{nameof(MemoryRateLimiterOptions)}.{nameof(RetryAfter)} must not be negative; it was {retryAfter}.");
        }

        ArgumentNullException.ThrowIfNull(TimeProvider, nameof(TimeProvider));
    }
}
