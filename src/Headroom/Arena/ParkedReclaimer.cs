namespace Headroom.Arena;

/// <summary>
/// Parked memory as a reclaimer of the arena's root (semantics §9): registered with the lowest cost, so reclaim gives
/// back parked buffers before it asks any cache, and before anyone waits or is refused.
/// </summary>
internal sealed class ParkedReclaimer(NativeArena arena) : IMemoryReclaimer
{
    public long GetReclaimableBytes() => arena.Parked;

    public ReclaimResult Reclaim(long target, CancellationToken cancellationToken) => new(arena.Trim(target));
}
