using System.Diagnostics;

namespace Headroom;

/// <summary>
/// A charge held as a value, in the spirit of <c>RateLimitLease</c>: it knows its budget, its size and the consumer
/// that made it, and disposing it uncharges exactly once, crediting that consumer whichever flow disposes it (a cache
/// eviction, a hand-off to another task). Take one with <see cref="MemoryBudget.Lease"/>,
/// <see cref="MemoryBudget.LeaseAsync"/> or <see cref="MemoryBudget.TryLease"/>.
/// </summary>
[DebuggerDisplay("{Bytes} bytes of {Budget.Name,nq}, released: {IsReleased}")]
public sealed class ChargeLease : IDisposable
{
    private readonly MemoryConsumer? _consumer;
    private int _released;

    internal ChargeLease(MemoryBudget budget, long bytes, MemoryConsumer? consumer)
    {
        Budget = budget;
        Bytes = bytes;
        _consumer = consumer;
    }

    /// <summary>Gets the budget the bytes are charged to.</summary>
    public MemoryBudget Budget { get; }

    /// <summary>Gets the bytes charged.</summary>
    public long Bytes { get; }

    /// <summary>Gets the consumer the charge is attributed to, or <see langword="null"/> when none was current on the charging flow.</summary>
    public MemoryConsumer? Consumer => _consumer;

    /// <summary>Gets whether the lease was disposed and its bytes uncharged.</summary>
    public bool IsReleased => Volatile.Read(ref _released) != 0;

    /// <summary>Uncharges <see cref="Bytes"/> from <see cref="Budget"/> and credits <see cref="Consumer"/>; disposing twice is harmless.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            Budget.Uncharge(Bytes, _consumer);
        }
    }
}
