using System.Runtime.InteropServices;
using Headroom.Arena;

namespace Headroom.Pools;

/// <summary>
/// One core's share of a <see cref="ReservedMemoryPool"/>'s kept buffers: returned buffers, still charged, by class.
/// A pool keeps one per core so that rents and returns on different cores take different guards on different cache
/// lines, as the BCL's shared array pool keeps per-core stacks; one guard for the whole pool was a line every core
/// fought over (two threads: ~16× <see cref="System.Buffers.MemoryPool{T}.Shared"/>).
/// </summary>
internal sealed class KeptBuffers
{
    private readonly Stack<nint>[] _kept = new Stack<nint>[SizeClasses.Count]; // guarded by _guard

    // Its sections are a push or a pop (a close's a few more), never a wait or a call out, so a thread that finds it
    // taken spins: a SpinLock without owner tracking enters with one locked instruction and leaves with a plain store.
    // It sits alone on its cache line (GuardLine), so that no other core's reads of whatever was allocated beside it
    // (the pool, the other shares) bounce the line its core writes on every rent and return.
    private GuardLine _guard;
    private bool _closed; // guarded by _guard: the pool was disposed, and this share given back

    /// <summary>A share made on the core that first returns a buffer there, so that it and its stacks' arrays sit among that thread's allocations.</summary>
    internal KeptBuffers()
    {
        _guard.Lock = new SpinLock(enableThreadOwnerTracking: false);
        for (int cls = 0; cls < _kept.Length; cls++)
        {
            _kept[cls] = new Stack<nint>();
        }
    }

    /// <summary>Gets a share that was closed from the start: what a disposed pool puts where no share was made yet.</summary>
    internal static KeptBuffers Closed { get; } = CreateClosed();

    /// <summary>Takes a kept buffer of <paramref name="cls"/>: <see langword="null"/> once closed, else whether one was there.</summary>
    internal bool? TryPop(int cls, out nint buffer)
    {
        buffer = 0;
        Enter();
        bool? popped = _closed ? null : _kept[cls].TryPop(out buffer);
        Exit();
        return popped;
    }

    /// <summary>Keeps a returned buffer of <paramref name="cls"/>; false once closed (the caller gives it back to the arena).</summary>
    internal bool TryPush(int cls, nint buffer)
    {
        Enter();
        try
        {
            if (_closed)
            {
                return false;
            }

            _kept[cls].Push(buffer); // may grow the stack: an allocation inside the section, rarely, never a wait
            return true;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Closes this share and takes what it kept: later pushes and pops refuse.</summary>
    internal void Close(List<(nint Buffer, int Class)> into)
    {
        Enter();
        try
        {
            _closed = true;
            for (int cls = 0; cls < _kept.Length; cls++)
            {
                while (_kept[cls].TryPop(out nint buffer))
                {
                    into.Add((buffer, cls));
                }
            }
        }
        finally
        {
            Exit();
        }
    }

    private static KeptBuffers CreateClosed()
    {
        var share = new KeptBuffers();
        share.Close([]);
        return share;
    }

    private void Enter()
    {
        bool taken = false;
        _guard.Lock.Enter(ref taken);
    }

    private void Exit() => _guard.Lock.Exit(useMemoryBarrier: false); // the release store publishes the section's writes to the next one in

    /// <summary>A spin lock with a cache line of nothing on either side of it.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 192)]
    private struct GuardLine
    {
        [FieldOffset(64)]
        internal SpinLock Lock;
    }
}
