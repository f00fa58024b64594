namespace Headroom.Extensions.Hosting.Tests.Reclaim;

/// <summary>A reclaimer over bytes a test charged on its behalf: reclaim uncharges them, as a cache dropping entries would.</summary>
public sealed class HeldBytes : IMemoryReclaimer, IDisposable
{
    private MemoryBudget? _budget;

    /// <summary>For an instance the container holds.</summary>
    public HeldBytes()
    {
    }

    /// <summary>For an instance Headroom makes: it reports itself to the test's ledger.</summary>
    public HeldBytes(HeldBytesLedger ledger)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ledger.Made.Add(this);
    }

    private long _held;

    public bool Disposed { get; private set; }

    public int Calls { get; private set; }

    public void Hold(MemoryBudget budget, long bytes)
    {
        budget.Charge(bytes, AllocationMode.NoWait);
        _budget = budget;
        _held += bytes;
    }

    public long GetReclaimableBytes() => _held;

    public ReclaimResult Reclaim(long target, CancellationToken cancellationToken)
    {
        Calls++;
        long freed = Math.Min(target, _held);
        if (freed == 0)
        {
            return ReclaimResult.Stop;
        }

        _held -= freed;
        _budget!.Uncharge(freed);
        return new ReclaimResult(freed);
    }

    /// <summary>Gives back whatever is still held.</summary>
    public void Dispose()
    {
        Disposed = true;
        if (_held > 0)
        {
            _budget!.Uncharge(_held);
            _held = 0;
        }
    }
}

/// <summary>Where instances made by Headroom (not by the test) are found.</summary>
public sealed class HeldBytesLedger
{
    public List<HeldBytes> Made { get; } = [];
}
