namespace Headroom.Arena;

/// <summary>Where a disposed <see cref="ArenaBuffer"/> goes back to: the arena, or a pool that keeps its own buffers.</summary>
internal interface IBufferHome
{
    /// <summary>Takes back a buffer of class <paramref name="cls"/> (or direct) charged as <paramref name="footprint"/> bytes to <paramref name="budget"/>.</summary>
    void Return(nint buffer, int cls, long footprint, MemoryBudget budget, MemoryConsumer? consumer);
}
