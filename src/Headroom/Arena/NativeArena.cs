using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Headroom.Arena;

/// <summary>
/// The native memory of one budget tree (semantics §9). Every byte it holds natively is charged: a buffer in use to
/// the budget that rented it, a parked one (returned, kept for reuse) to the root. It charges before it allocates and
/// frees before it uncharges, so <see cref="ChunkSource.Bytes"/> never exceeds the root's capacity.
/// </summary>
/// <remarks>
/// Parked buffers live in per-thread caches (no shared cache line on the common rent and return) and a shared depot,
/// both bounded. They are given back (freed, and uncharged from the root) by <see cref="Trim"/>: the arena registers as
/// the cheapest reclaimer of its root, a rent that would be refused trims first, and nothing is parked while anyone
/// waits at the root or inside a reclaimer (whose progress must be real bytes).
/// </remarks>
internal sealed unsafe class NativeArena : IBufferHome
{
    /// <summary>The reclaim domain of parked memory.</summary>
    internal const string Domain = "headroom.arena";

    /// <summary>What a freed buffer is filled with when poisoning is on; a rent checks it is still there.</summary>
    internal const byte PoisonByte = 0xDB;

    /// <summary>Caches of other arenas a thread keeps before it flushes the oldest.</summary>
    private const int MaxOtherCaches = 8;

    private readonly Lock _cachesSync = new();
    private readonly Lock _trimSync = new(); // one trim (or flush) at a time: ThreadCache's protocol has one claimer
    private readonly List<ThreadCache> _caches = []; // guarded by _cachesSync
    private readonly Depot _depot;
    private readonly long _threadLimit;
    private volatile bool _closed;
    private IDisposable? _registration;

    internal NativeArena(MemoryBudget root, bool poison)
    {
        Debug.Assert(root.Parent is null);
        Root = root;
        Poison = poison;
        ParkedLimit = root.Capacity / 8;
        _depot = new Depot(ParkedLimit);
        _threadLimit = Math.Min(ParkedLimit / 4, 256 * 1024);
    }

    internal MemoryBudget Root { get; }

    internal ChunkSource Chunks { get; } = new();

    /// <summary>Whether freed buffers are filled with <see cref="PoisonByte"/> and checked on reuse.</summary>
    internal bool Poison { get; }

    /// <summary>The depot's bound; each thread's cache holds at most a quarter of it (and 256 KiB).</summary>
    internal long ParkedLimit { get; }

    internal bool IsClosed => _closed;

    /// <summary>Gets the parked bytes: returned buffers kept for reuse, charged to the root.</summary>
    internal long Parked
    {
        get
        {
            long parked = _depot.Bytes;
            lock (_cachesSync)
            {
                foreach (ThreadCache cache in _caches)
                {
                    parked += cache.Bytes;
                }
            }

            return parked;
        }
    }

    /// <summary>Registers the arena as its root's cheapest reclaimer. Called once, before the arena is published.</summary>
    internal void Register() =>
        _registration = Root.RegisterReclaimer(new ParkedReclaimer(this), new ReclaimerOptions
        {
            Domain = Domain,
            Cost = 1, // the cheapest: a parked buffer costs nothing to rebuild
            Timeout = Timeout.InfiniteTimeSpan, // a trim is a few frees: run it in the caller
        });

    /// <summary>
    /// Takes a parked buffer of <paramref name="cls"/> without changing any counter: the caller either rents it at the
    /// root (where it is charged already) or releases its parked charge.
    /// </summary>
    /// <returns>The buffer, or 0 when none is parked (a return value, not an out local: the rent keeps it in a register).</returns>
    internal nint TakeParked(int cls) => TakeParked(PerThread.Current, cls);

    /// <summary>As <see cref="TakeParked(int)"/>, for a caller that has read <see cref="PerThread.Current"/> already.</summary>
    internal nint TakeParked(PerThread? thread, int cls)
    {
        ThreadCache? cache = thread?.Cache;
        if (cls < SizeClasses.ThreadCached && cache is not null && cache.Arena == this && cache.TryEnter())
        {
            nint buffer = cache.Pop(cls);
            cache.Exit();
            if (buffer != 0)
            {
                CheckPoison(buffer, cls);
                return buffer;
            }
        }

        return TakeParkedSlow(cls);
    }

    /// <summary>A buffer for a rent that has charged <paramref name="footprint"/> to <paramref name="charged"/>: a parked one (its parked charge released) or a new one.</summary>
    internal nint TakeCharged(MemoryBudget charged, int cls, long footprint)
    {
        try
        {
            nint parked = cls != SizeClasses.Direct ? TakeParked(cls) : 0;
            if (parked != 0)
            {
                Root.Uncharge(footprint, consumer: null); // it was charged twice for a moment: as parked and to the renter
                return parked;
            }

            return (nint)Chunks.Allocate(footprint, SizeClasses.Alignment(footprint));
        }
        catch
        {
            charged.Uncharge(footprint); // out of native memory, or a poisoned buffer: the rent changes nothing
            throw;
        }
    }

    /// <inheritdoc />
    public void Return(nint buffer, int cls, long footprint, MemoryBudget budget, MemoryConsumer? consumer)
    {
        // Park only when nobody waits at the root (the bytes are theirs) and not inside a reclaimer (its progress must be real).
        PerThread? thread = PerThread.Current; // the return's thread-static read of the cache (the context has its own)
        if (cls != SizeClasses.Direct && !_closed && Root.Queue.Count == 0 && AllocationContext.Current?.Reclaiming is null)
        {
            if (budget == Root)
            {
                if (Park(thread, buffer, cls))
                {
                    consumer?.Attribute(-footprint); // in use becomes parked: the root's Committed stays as it is
                    return;
                }
            }
            else if (Root.ChargeOrdinary(footprint, AllocationMode.NoWait, AllocationPriority.Normal, site: null, CancellationToken.None).RefusedBy is null)
            {
                // Charged as parked at the root before uncharged from the renter: the native bytes stay covered throughout.
                if (Park(PerThread.Current, buffer, cls)) // read again: the charge may have bound a stock
                {
                    budget.Uncharge(footprint, consumer);
                    return;
                }

                Root.Uncharge(footprint, consumer: null);
            }
        }

        Chunks.Free((byte*)buffer, footprint);
        budget.Uncharge(footprint, consumer);
    }

    /// <summary>Frees parked buffers until <paramref name="target"/> bytes are freed or none is left, then uncharges them from the root.</summary>
    /// <returns>The bytes freed and uncharged.</returns>
    internal long Trim(long target)
    {
        var taken = new List<(nint Buffer, int Class)>();
        long bytes;
        lock (_trimSync)
        {
            bytes = _depot.TakeAll(taken, target);
            if (bytes < target)
            {
                ThreadCache[] caches;
                lock (_cachesSync)
                {
                    caches = [.. _caches];
                }

                bytes += TakeFromCaches(caches, taken, target - bytes);
            }
        }

        Release(taken, bytes); // outside the trim lock: an uncharge may wake waiters
        return bytes;
    }

    /// <summary>Ends the arena with its root: parked memory is given back, and later returns free their buffers.</summary>
    internal void Close()
    {
        lock (_cachesSync)
        {
            _closed = true;
        }

        Trim(long.MaxValue);
        _registration?.Dispose();
    }

    private nint TakeParkedSlow(int cls)
    {
        nint buffer = _depot.Pop(cls);
        if (buffer != 0)
        {
            CheckPoison(buffer, cls);
        }

        return buffer;
    }

    /// <summary>Parks a buffer whose bytes are (or are about to stop being) charged to the root as parked.</summary>
    private bool Park(PerThread? thread, nint buffer, int cls)
    {
        if (Poison)
        {
            new Span<byte>((void*)buffer, SizeClasses.Footprint(cls)).Fill(PoisonByte);
        }

        bool parked = false;
        if (cls < SizeClasses.ThreadCached && OwnCache(thread) is { } cache && cache.TryEnter())
        {
            parked = cache.Push(cls, buffer);
            cache.Exit();
        }

        parked = parked || _depot.Push(cls, buffer);
        if (parked && _closed)
        {
            Trim(long.MaxValue); // parked after a racing close emptied the caches: give it back now
        }

        return parked;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] // the common case, poisoning off, costs a test and no call
    private void CheckPoison(nint buffer, int cls)
    {
        if (Poison)
        {
            CheckPoisonSlow(buffer, cls);
        }
    }

    private void CheckPoisonSlow(nint buffer, int cls)
    {
        int footprint = SizeClasses.Footprint(cls);
        int written = new ReadOnlySpan<byte>((void*)buffer, footprint).IndexOfAnyExcept(PoisonByte);
        if (written >= 0)
        {
            Chunks.Free((byte*)buffer, footprint);
            Root.Uncharge(footprint, consumer: null);
            throw new InvalidOperationException(
                $"A freed buffer of {footprint} bytes in budget '{Root.Name}' was written after it was returned: byte {written} is not the poison 0x{PoisonByte:X2}. Some owner kept using its memory after disposing it.");
        }
    }

    private void Release(List<(nint Buffer, int Class)> taken, long bytes)
    {
        foreach ((nint buffer, int cls) in taken)
        {
            Chunks.Free((byte*)buffer, SizeClasses.Footprint(cls));
        }

        if (bytes > 0)
        {
            Root.Uncharge(bytes, consumer: null); // freed first, then uncharged: inside a reclaimer this is its progress
        }
    }

    /// <summary>This thread's cache of this arena, created on first use; null once the arena is closed.</summary>
    private ThreadCache? OwnCache(PerThread? thread)
    {
        ThreadCache? cache = thread?.Cache;
        return cache is not null && cache.Arena == this ? cache : OwnCacheSlow();
    }

    private ThreadCache? OwnCacheSlow()
    {
        PerThread thread = PerThread.Ensure();
        List<ThreadCache> others = thread.OtherCaches ??= [];
        others.RemoveAll(static c => c.Arena.IsClosed);
        ThreadCache? current = thread.Cache;
        if (current is not null && current.Arena.IsClosed)
        {
            current = thread.Cache = null;
        }

        int index = others.FindIndex(c => c.Arena == this);
        ThreadCache found;
        if (index >= 0)
        {
            found = others[index];
            others.RemoveAt(index);
        }
        else
        {
            found = new ThreadCache(this, _threadLimit);
            lock (_cachesSync)
            {
                if (_closed)
                {
                    return null;
                }

                _caches.Add(found);
            }
        }

        if (current is not null)
        {
            others.Add(current);
            if (others.Count > MaxOtherCaches)
            {
                ThreadCache oldest = others[0];
                others.RemoveAt(0);
                oldest.Arena.Flush(oldest);
            }
        }

        thread.Cache = found;
        return found;
    }

    /// <summary>A thread let go of its cache of this arena: its buffers are given back and the arena forgets it.</summary>
    private void Flush(ThreadCache cache)
    {
        var taken = new List<(nint Buffer, int Class)>();
        long bytes;
        lock (_trimSync)
        {
            bytes = TakeFromCaches([cache], taken, long.MaxValue);
        }

        Forget(cache);
        Release(taken, bytes);
    }

    /// <summary>
    /// Empties caches of other threads (or of this one, outside its section) under <see cref="ThreadCache"/>'s
    /// asymmetric protocol: claim them all, one process-wide barrier, then take from each once its owner is out.
    /// Caller holds <see cref="_trimSync"/>.
    /// </summary>
    private long TakeFromCaches(ThreadCache[] caches, List<(nint Buffer, int Class)> taken, long target)
    {
        Debug.Assert(_trimSync.IsHeldByCurrentThread);
        if (caches.Length == 0)
        {
            return 0;
        }

        foreach (ThreadCache cache in caches)
        {
            cache.Claim();
        }

        Interlocked.MemoryBarrierProcessWide();
        long bytes = 0;
        foreach (ThreadCache cache in caches)
        {
            if (bytes < target)
            {
                cache.AwaitOwner();
                bytes += cache.TakeAll(taken, target - bytes);
            }

            cache.Release();
            if (!cache.Owner.IsAlive && cache.Bytes == 0)
            {
                Forget(cache); // its thread has ended
            }
        }

        return bytes;
    }

    private void Forget(ThreadCache cache)
    {
        lock (_cachesSync)
        {
            _caches.Remove(cache);
        }
    }
}
