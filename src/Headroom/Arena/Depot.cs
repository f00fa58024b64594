using System.Diagnostics;

namespace Headroom.Arena;

/// <summary>
/// The arena's shared parked buffers, by class, under one lock: what overflows a thread's cache, the classes too
/// large for thread caches, and what a thread without a cache returns. Bounded in bytes.
/// </summary>
internal sealed class Depot
{
    private readonly Lock _sync = new();
    private readonly Stack<nint>[] _bins;
    private readonly long _limit;
    private long _bytes;

    internal Depot(long limit)
    {
        _limit = limit;
        _bins = new Stack<nint>[SizeClasses.Count];
        for (int cls = 0; cls < _bins.Length; cls++)
        {
            _bins[cls] = new Stack<nint>();
        }
    }

    /// <summary>Gets the parked bytes it holds.</summary>
    internal long Bytes => Volatile.Read(ref _bytes);

    internal nint Pop(int cls)
    {
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Leaf, _sync);
            Debug.Assert(_bytes >= 0 && _bytes <= _limit);
            if (!_bins[cls].TryPop(out nint buffer))
            {
                return 0;
            }

            _bytes -= SizeClasses.Footprint(cls);
            return buffer;
        }
    }

    /// <summary>Parks a buffer; false when that would go past the depot's limit.</summary>
    internal bool Push(int cls, nint buffer)
    {
        int footprint = SizeClasses.Footprint(cls);
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Leaf, _sync);
            Debug.Assert(_bytes >= 0 && _bytes <= _limit);
            if (_bytes + footprint > _limit)
            {
                return false;
            }

            _bins[cls].Push(buffer);
            _bytes += footprint;
            return true;
        }
    }

    /// <summary>Takes parked buffers, largest classes first, until <paramref name="target"/> bytes are taken.</summary>
    internal long TakeAll(List<(nint Buffer, int Class)> into, long target)
    {
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Leaf, _sync);
            Debug.Assert(_bytes >= 0 && _bytes <= _limit);
            long taken = 0;
            for (int cls = _bins.Length - 1; cls >= 0 && taken < target; cls--)
            {
                while (taken < target && _bins[cls].TryPop(out nint buffer))
                {
                    into.Add((buffer, cls));
                    taken += SizeClasses.Footprint(cls);
                }
            }

            _bytes -= taken;
            return taken;
        }
    }
}
