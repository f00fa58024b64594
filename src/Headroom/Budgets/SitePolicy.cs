namespace Headroom;

/// <summary>
/// What administrators decide for the charges of one named site ("journal", "btree-split"), after XFS's error
/// configuration (semantics §3): how long its charges retry and when the canary reports them. Set with <see cref="MemoryBudget.SetSitePolicy"/>; changeable at run time. It
/// overrides the caller's mode in <see cref="MemoryBudget.Charge"/> and <see cref="MemoryBudget.ChargeAsync"/>, except
/// <see cref="AllocationMode.NoWait"/>, which cannot block. <see cref="MemoryBudget.TryCharge"/> never waits: where the
/// policy would wait, the try retries reclaim as <see cref="AllocationMode.RetryMayFail"/> does instead. A refusal reports the caller's mode.
/// </summary>
public sealed record SitePolicy
{
    /// <summary>Gets a value indicating whether the site's charges retry forever: they wait until granted, as <see cref="AllocationMode.NoFail"/>.</summary>
    public bool RetryForever { get; init; }

    /// <summary>
    /// Gets the reclaim passes in a row without progress after which the site's charges give up (XFS's
    /// <c>max_retries</c>; Headroom's default is 16). Without <see cref="MaxWait"/> they then fail instead of waiting.
    /// </summary>
    public int? MaxRetries { get; init; }

    /// <summary>Gets the longest time the site's charges wait in the queue before they fail (XFS's <c>retry_timeout_seconds</c>).</summary>
    public TimeSpan? MaxWait { get; init; }

    /// <summary>
    /// Gets how long the site's charges may wait before the canary reports them, in place of the tree's
    /// <see cref="MemoryBudgetOptions.CanaryInterval"/>; <see cref="Timeout.InfiniteTimeSpan"/> silences them.
    /// </summary>
    public TimeSpan? CanaryInterval { get; init; }

    internal void Validate()
    {
        if (CanaryInterval is { } canary && canary <= TimeSpan.Zero && canary != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(CanaryInterval), canary,
                $"{nameof(SitePolicy)}.{nameof(CanaryInterval)} must be positive, or Timeout.InfiniteTimeSpan to silence the site; it was {canary}.");
        }

        if (MaxRetries is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxRetries), MaxRetries, $"{nameof(SitePolicy)}.{nameof(MaxRetries)} must not be negative; it was {MaxRetries}.");
        }

        if (MaxWait is { } wait && wait <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxWait), wait, $"{nameof(SitePolicy)}.{nameof(MaxWait)} must be positive; it was {wait}.");
        }

        if (RetryForever && (MaxRetries is not null || MaxWait is not null))
        {
            throw new ArgumentException(
                $"A {nameof(SitePolicy)} that retries forever cannot also limit retries or waiting; it had {nameof(RetryForever)} = true, {nameof(MaxRetries)} = {MaxRetries?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null"}, {nameof(MaxWait)} = {MaxWait?.ToString() ?? "null"}.",
                nameof(RetryForever));
        }
    }

    /// <summary>
    /// The mode a charge of this site runs with: waiting when the policy waits, retrying when it only limits retries.
    /// A <see cref="AllocationMode.NoWait"/> caller cannot block, so no policy makes it.
    /// </summary>
    internal AllocationMode Apply(AllocationMode mode) =>
        mode == AllocationMode.NoWait ? mode
        : RetryForever || MaxWait is not null ? AllocationMode.NoFail
        : MaxRetries is not null ? AllocationMode.RetryMayFail
        : mode;
}
