using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Headroom.Arena;

/// <summary>
/// One thread's parked buffers of one arena, by class (Linux's per-CPU page lists, glibc's tcache). Its owner thread
/// is the only one that uses it on the rent and return paths, with plain stores and no locked instruction; a trim
/// from another thread empties it, rarely, under an asymmetric protocol (the one the stocks use, see StockDrain):
/// </summary>
/// <remarks>
/// The owner marks <see cref="_busy"/> with a plain store, then reads <see cref="_claimed"/>: if a trim has claimed
/// the cache it leaves at once (and goes the shared way). A trim sets <see cref="_claimed"/>, then runs
/// <see cref="Interlocked.MemoryBarrierProcessWide"/>, then waits for <see cref="_busy"/> to read 0. The barrier
/// orders the owner's store before its load as a fence on its side would: either the owner's mark was made before
/// the barrier, and the trim sees it and waits for the owner's exit (a release store, which publishes its counts and slots), or
/// it was made after, and the owner's read of the claim then sees the claim and leaves. So never both are inside.
/// The owner's hot path pays two plain stores and a load; each trim pays one process-wide barrier for all caches.
/// </remarks>
internal sealed class ThreadCache
{
    /// <summary>At most this many buffers of one class per thread.</summary>
    private const int MaxPerClass = 32;

    // Inline in the object, one row of slots per class: a rent or return reads its count, its limit and one slot at
    // fixed offsets from the cache, with no array headers to load and no bounds to check (cls is checked by the caller).
    // Each class also has a hot slot holding its newest buffer: a return then a rent (the common pair) moves the buffer
    // through one fixed address, without waiting on the count to know which slot to read (measured: 1.56 to 1.45 times
    // MemoryPool<byte>.Shared's rent+dispose at one thread, as the pair is bound by that chain of loads and stores).
    private Hot _hot; // one buffer per class, or 0, part of the class's limit; written as the counts are, read without the section by Bytes
    private Slots _slots;
    private Counts _counts; // written by the owner inside its section, or by a trim holding the cache; read without it by Bytes
    private Counts _limits; // per class, what the row may hold besides the hot slot (−1: the class parks nothing); fixed at creation
    private int _busy; // the owner's section: written by the owner only
    private int _claimed; // a trim's section: written by trims only, one at a time (the arena's trim lock)

    internal ThreadCache(NativeArena arena, long limitBytes)
    {
        Arena = arena;
        Owner = Thread.CurrentThread;
        for (int cls = 0; cls < SizeClasses.ThreadCached; cls++)
        {
            _limits[cls] = (int)Math.Clamp(limitBytes / SizeClasses.Footprint(cls), 0, MaxPerClass) - 1;
        }
    }

    internal NativeArena Arena { get; }

    /// <summary>The thread it belongs to: once that thread has ended, a trim empties it and drops it.</summary>
    internal Thread Owner { get; }

    /// <summary>Gets the parked bytes it holds: a lagging read, summed from the counts (which the hot paths keep alone).</summary>
    internal long Bytes
    {
        get
        {
            long bytes = 0;
            for (int cls = 0; cls < SizeClasses.ThreadCached; cls++)
            {
                int held = Volatile.Read(ref _counts[cls]) + (Volatile.Read(ref _hot[cls]) != 0 ? 1 : 0);
                bytes += (long)held * SizeClasses.Footprint(cls);
            }

            return bytes;
        }
    }

    /// <summary>The owner's entry: false while a trim holds the cache (the caller goes the shared way instead).</summary>
    internal bool TryEnter()
    {
        Debug.Assert(Thread.CurrentThread == Owner);
        Volatile.Write(ref _busy, 1); // the store a trim's process-wide barrier makes visible before it reads it
        if (Volatile.Read(ref _claimed) == 0)
        {
            return true;
        }

        Volatile.Write(ref _busy, 0);
        return false;
    }

    /// <summary>The owner's exit: publishes what it changed to the next trim.</summary>
    internal void Exit() => Volatile.Write(ref _busy, 0);

    /// <summary>A trim's first step, for every cache it will empty, before one <see cref="Interlocked.MemoryBarrierProcessWide"/> for all.</summary>
    internal void Claim() => Volatile.Write(ref _claimed, 1);

    /// <summary>A trim's entry, after the barrier: waits out the owner's few instructions.</summary>
    internal void AwaitOwner()
    {
        var spin = default(SpinWait);
        while (Volatile.Read(ref _busy) != 0)
        {
            spin.SpinOnce();
        }
    }

    /// <summary>A trim's exit: the owner may use the cache again.</summary>
    internal void Release() => Volatile.Write(ref _claimed, 0);

    /// <summary>Takes a parked buffer of <paramref name="cls"/>, or 0. Caller is the owner, inside its section.</summary>
    internal nint Pop(int cls)
    {
        Debug.Assert(Volatile.Read(ref _busy) == 1 && Thread.CurrentThread == Owner);
        Debug.Assert((uint)cls < SizeClasses.ThreadCached);
        ref nint hot = ref Unsafe.Add(ref _hot[0], cls);
        nint buffer = hot;
        if (buffer != 0)
        {
            hot = 0;
            return buffer;
        }

        // The count stays in a register between its load and its store: each reload of a just-stored count would add
        // a store-forward to the pair's latency.
        ref int count = ref Unsafe.Add(ref _counts[0], cls);
        int left = count - 1;
        if (left < 0)
        {
            return 0;
        }

        count = left;
        return Unsafe.Add(ref _slots[0], (cls * MaxPerClass) + left);
    }

    /// <summary>Parks a buffer of <paramref name="cls"/>; false when this class's row is full. Caller is the owner, inside its section.</summary>
    internal bool Push(int cls, nint buffer)
    {
        Debug.Assert(Volatile.Read(ref _busy) == 1 && Thread.CurrentThread == Owner);
        Debug.Assert((uint)cls < SizeClasses.ThreadCached);
        ref nint hot = ref Unsafe.Add(ref _hot[0], cls);
        nint previous = hot;
        if (previous != 0)
        {
            // The newest buffer takes the hot slot and the one there goes onto the row: strictly LIFO, as the warmest
            // buffer is the one rented next.
            ref int count = ref Unsafe.Add(ref _counts[0], cls);
            int held = count; // in a register, as in Pop
            if (held >= Unsafe.Add(ref _limits[0], cls))
            {
                return false;
            }

            Unsafe.Add(ref _slots[0], (cls * MaxPerClass) + held) = previous;
            count = held + 1;
        }
        else if (Unsafe.Add(ref _limits[0], cls) < 0)
        {
            return false;
        }

        hot = buffer;
        return true;
    }

    /// <summary>Takes parked buffers, largest classes first, until <paramref name="target"/> bytes are taken. Caller holds the cache: a trim after <see cref="AwaitOwner"/>, or the owner inside its section.</summary>
    internal long TakeAll(List<(nint Buffer, int Class)> into, long target)
    {
        Debug.Assert(Volatile.Read(ref _claimed) == 1 || (Volatile.Read(ref _busy) == 1 && Thread.CurrentThread == Owner));
        long taken = 0;
        for (int cls = SizeClasses.ThreadCached - 1; cls >= 0 && taken < target; cls--)
        {
            if (_hot[cls] != 0)
            {
                into.Add((_hot[cls], cls));
                _hot[cls] = 0;
                taken += SizeClasses.Footprint(cls);
            }

            while (_counts[cls] > 0 && taken < target)
            {
                int count = --_counts[cls];
                into.Add((_slots[(cls * MaxPerClass) + count], cls));
                taken += SizeClasses.Footprint(cls);
            }
        }

        return taken;
    }

    [InlineArray(SizeClasses.ThreadCached)]
    private struct Hot
    {
        private nint _buffer;
    }

    [InlineArray(SizeClasses.ThreadCached * MaxPerClass)]
    private struct Slots
    {
        private nint _slot;
    }

    [InlineArray(SizeClasses.ThreadCached)]
    private struct Counts
    {
        private int _count;
    }
}
