namespace Headroom.AspNetCore;

/// <summary>How requests are admitted by memory (<see cref="MemoryAdmissionExtensions.UseMemoryAdmission"/>); validated when the host starts.</summary>
public sealed class MemoryAdmissionOptions
{
    /// <summary>The longest <see cref="Deadline"/> accepted: a request that waits longer than this is better answered.</summary>
    public static readonly TimeSpan MaxDeadline = TimeSpan.FromMinutes(10);

    /// <summary>The longest <see cref="RetryAfter"/> accepted.</summary>
    public static readonly TimeSpan MaxRetryAfter = TimeSpan.FromDays(1);

    /// <summary>
    /// Gets or sets the budget requests reserve from; when <see langword="null"/>, the <see cref="MemoryBudget"/>
    /// registered in the service provider.
    /// </summary>
    public MemoryBudget? Budget { get; set; }

    /// <summary>Gets or sets how long a request may wait for its reservation before it is answered 503; positive, at most <see cref="MaxDeadline"/>. Default 2 s.</summary>
    public TimeSpan Deadline { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Gets or sets the <c>Retry-After</c> of a 503, sent in whole seconds (rounded up); at least 1 s, at most <see cref="MaxRetryAfter"/>. Default 1 s.</summary>
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Gets or sets the bytes reserved for a request to an endpoint without <see cref="IMemoryAdmissionMetadata"/>
    /// (on top of its <c>Content-Length</c> when <see cref="ReserveContentLength"/>); not negative. Default 0: such a
    /// request reserves only its body, and one without a body passes without a reservation.
    /// </summary>
    public long DefaultEstimateBytes { get; set; }

    /// <summary>Gets or sets whether a request's <c>Content-Length</c> is part of its worst case (its body, buffered). Default <see langword="true"/>.</summary>
    public bool ReserveContentLength { get; set; } = true;

    /// <summary>Gets or sets the clock of the deadline.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>The rule each value breaks, or null when they keep them all.</summary>
    internal string? Check()
    {
        string name = nameof(MemoryAdmissionOptions);
        if (Deadline <= TimeSpan.Zero || Deadline > MaxDeadline)
        {
            return $"{name}.{nameof(Deadline)} must be positive and at most {MaxDeadline}; it was {Deadline}.";
        }

        if (RetryAfter < TimeSpan.FromSeconds(1) || RetryAfter > MaxRetryAfter)
        {
            return $"{name}.{nameof(RetryAfter)} must be at least 1 second (Retry-After counts whole seconds) and at most {MaxRetryAfter}; it was {RetryAfter}.";
        }

        if (DefaultEstimateBytes < 0)
        {
            return $"{name}.{nameof(DefaultEstimateBytes)} must not be negative; it was {DefaultEstimateBytes}.";
        }

        return TimeProvider is null ? $"{name}.{nameof(TimeProvider)} must not be null." : null;
    }
}
