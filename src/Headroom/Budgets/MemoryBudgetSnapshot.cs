namespace Headroom;

/// <summary>
/// The counters of one budget read at one moment (semantics §1). Each field is read atomically; under concurrent
/// charging the fields may come from instants a few instructions apart.
/// </summary>
/// <param name="Name">The budget's name.</param>
/// <param name="Capacity">The limit, in bytes.</param>
/// <param name="Used">Bytes charged and not yet uncharged.</param>
/// <param name="Reserved">Bytes promised to live reservations and not yet drawn.</param>
/// <param name="Min">The min watermark: free bytes that only urgent callers may take.</param>
/// <param name="Low">The low watermark: below it, background reclaim is woken.</param>
/// <param name="High">The high watermark: background reclaim works until this much is free.</param>
/// <param name="Stocked">Bytes per-thread stocks hold: in Committed, not yet handed out. Used and Free may lag by at most this much.</param>
public readonly record struct MemoryBudgetSnapshot(
    string Name,
    long Capacity,
    long Used,
    long Reserved,
    long Min,
    long Low,
    long High,
    long Stocked = 0)
{
    /// <summary>Gets the bytes of returned buffers the arena keeps for reuse, part of <see cref="Used"/> (at a root; 0 at a child).</summary>
    public long Parked { get; init; }

    /// <summary>Gets <see cref="Used"/> + <see cref="Reserved"/> + <see cref="Stocked"/>: the bytes no ordinary charge may take.</summary>
    public long Committed => Used + Reserved + Stocked;

    /// <summary>Gets <see cref="Capacity"/> − <see cref="Used"/>: the bytes not charged.</summary>
    public long Free => Capacity - Used;

    /// <inheritdoc />
    public override string ToString() =>
        $"{Name}: capacity {Capacity}, used {Used}, reserved {Reserved}, stocked {Stocked}, free {Free}, watermarks min {Min} / low {Low} / high {High}";
}
