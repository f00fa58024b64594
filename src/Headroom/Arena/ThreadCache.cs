using System.Diagnostics;

namespace Headroom.Arena;

/// <summary>
/// One thread's parked buffers of one arena, by class (Linux's per-CPU page lists, glibc's tcache). Its owner thread
/// is the only one that uses it on the rent and return paths, so the flag it takes lives in a cache line no other
/// thread writes; a trim from another thread takes the same flag, rarely, to empty it.
/// </summary>
internal sealed class ThreadCache
{
    /// <summary>At most this many buffers of one class per thread.</summary>
    private const int MaxPerClass = 32;

    private readonly nint[][] _bins;
    private readonly int[] _counts;
    private long _bytes; // written under the flag; read without it by Parked
    private int _busy;

    internal ThreadCache(NativeArena arena, long limitBytes)
    {
        Arena = arena;
        Owner = Thread.CurrentThread;
        _bins = new nint[SizeClasses.ThreadCached][];
        _counts = new int[SizeClasses.ThreadCached];
        for (int cls = 0; cls < _bins.Length; cls++)
        {
            _bins[cls] = new nint[(int)Math.Clamp(limitBytes / SizeClasses.Footprint(cls), 0, MaxPerClass)];
        }
    }

    internal NativeArena Arena { get; }

    /// <summary>The thread it belongs to: once that thread has ended, a trim empties it and drops it.</summary>
    internal Thread Owner { get; }

    /// <summary>Gets the parked bytes it holds (a lagging read).</summary>
    internal long Bytes => Volatile.Read(ref _bytes);

    /// <summary>The owner's entry: false when a trim holds the flag (the caller goes the shared way instead).</summary>
    internal bool TryEnter() => Interlocked.CompareExchange(ref _busy, 1, 0) == 0;

    /// <summary>A trim's entry: waits out the owner's few instructions.</summary>
    internal void Enter()
    {
        var spin = default(SpinWait);
        while (!TryEnter())
        {
            spin.SpinOnce();
        }
    }

    internal void Exit() => Volatile.Write(ref _busy, 0);

    /// <summary>Takes a parked buffer of <paramref name="cls"/>. Caller holds the flag.</summary>
    internal nint Pop(int cls)
    {
        Debug.Assert(Volatile.Read(ref _busy) == 1);
        int count = _counts[cls];
        if (count == 0)
        {
            return 0;
        }

        _counts[cls] = --count;
        _bytes -= SizeClasses.Footprint(cls);
        return _bins[cls][count];
    }

    /// <summary>Parks a buffer of <paramref name="cls"/>; false when this class's bin is full. Caller holds the flag.</summary>
    internal bool Push(int cls, nint buffer)
    {
        Debug.Assert(Volatile.Read(ref _busy) == 1);
        nint[] bin = _bins[cls];
        int count = _counts[cls];
        if (count == bin.Length)
        {
            return false;
        }

        bin[count] = buffer;
        _counts[cls] = count + 1;
        _bytes += SizeClasses.Footprint(cls);
        return true;
    }

    /// <summary>Takes parked buffers, largest classes first, until <paramref name="target"/> bytes are taken. Caller holds the flag.</summary>
    internal long TakeAll(List<(nint Buffer, int Class)> into, long target)
    {
        Debug.Assert(Volatile.Read(ref _busy) == 1);
        long taken = 0;
        for (int cls = _bins.Length - 1; cls >= 0 && taken < target; cls--)
        {
            while (_counts[cls] > 0 && taken < target)
            {
                int count = --_counts[cls];
                into.Add((_bins[cls][count], cls));
                taken += SizeClasses.Footprint(cls);
            }
        }

        _bytes -= taken;
        return taken;
    }
}
