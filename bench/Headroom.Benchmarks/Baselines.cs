using System.Runtime.CompilerServices;

namespace Headroom.Benchmarks;

/// <summary>
/// The floor a budget charge is measured against: the least a lock-free bounded counter can do, a compare-and-swap
/// loop that adds only while the total stays within a limit, then a plain interlocked subtract. Both benchmark modes
/// use this one implementation, so their baselines agree.
/// </summary>
internal sealed class CheckedCasCounter(long limit)
{
    // Readonly field (not a constant) so the limit is loaded like a budget's capacity.
    private readonly long _limit = limit;
    private long _value;

    /// <summary>Gets the counter's current value; zero after any number of completed pairs.</summary>
    public long Value => Volatile.Read(ref _value);

    /// <summary>One checked add + subtract pair; false (nothing changed) when the add would pass the limit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool AddThenSubtract(long bytes)
    {
        if (!TryAdd(bytes))
        {
            return false;
        }

        Subtract(bytes);
        return true;
    }

    /// <summary>The checked add: a compare-and-swap loop that adds only while the total stays within the limit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryAdd(long bytes)
    {
        long current = Volatile.Read(ref _value);
        while (true)
        {
            long next = current + bytes;
            if (next > _limit)
            {
                return false;
            }

            long seen = Interlocked.CompareExchange(ref _value, next, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }
    }

    /// <summary>The plain interlocked subtract.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Subtract(long bytes) => Interlocked.Add(ref _value, -bytes);
}
