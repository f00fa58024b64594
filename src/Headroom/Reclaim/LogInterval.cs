namespace Headroom.Reclaim;

/// <summary>
/// Lets one message through per interval: a reclaimer that fails on every call is reported once per interval, not once
/// per charge that asked it.
/// </summary>
internal sealed class LogInterval(TimeProvider clock)
{
    /// <summary>The default interval: long enough that a fault on every charge cannot flood the log.</summary>
    internal static readonly TimeSpan Default = TimeSpan.FromSeconds(10);

    private long _nextAt = long.MinValue;

    /// <summary>True for the first caller of each interval.</summary>
    internal bool Allows()
    {
        long now = clock.GetTimestamp();
        long next = Volatile.Read(ref _nextAt);
        return now >= next
            && Interlocked.CompareExchange(ref _nextAt, now + (long)(Default.TotalSeconds * clock.TimestampFrequency), next) == next;
    }
}
