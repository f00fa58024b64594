using System.Numerics;

namespace Headroom.Arena;

/// <summary>
/// The arena's size classes: powers of two from 64 B to 1 MiB. A buffer takes the footprint of its class, which is
/// what it charges (the native bytes it really holds); larger buffers, and any whose class would not fit the budget,
/// are direct allocations of whole pages (or of exactly their size), never parked.
/// </summary>
internal static class SizeClasses
{
    internal const int PageSize = 4096;

    /// <summary>A buffer outside the classes: allocated for it alone and freed when it is returned.</summary>
    internal const int Direct = -1;

    /// <summary>How many classes there are.</summary>
    internal const int Count = MaxShift - MinShift + 1;

    /// <summary>Classes below this index are kept in per-thread caches; larger ones are parked only in the shared depot.</summary>
    internal const int ThreadCached = 11; // up to 64 KiB

    private const int MinShift = 6; // 64 B: one cache line, so two buffers never share one
    private const int MaxShift = 20; // 1 MiB

    /// <summary>The largest size a class serves.</summary>
    internal const int MaxClassSize = 1 << MaxShift;

    /// <summary>The class of a buffer of <paramref name="size"/> bytes (positive), or <see cref="Direct"/>.</summary>
    internal static int Of(int size) =>
        size <= 1 << MinShift ? 0
        : size > MaxClassSize ? Direct
        : BitOperations.Log2((uint)size - 1) + 1 - MinShift;

    /// <summary>The bytes a buffer of class <paramref name="cls"/> holds.</summary>
    internal static int Footprint(int cls) => 1 << (cls + MinShift);

    /// <summary>Small buffers are cache-line aligned, page-sized and larger ones page aligned.</summary>
    internal static nuint Alignment(long footprint) => footprint >= PageSize ? (nuint)PageSize : 64;

    /// <summary>A direct allocation's footprint: whole pages, or exactly the size when whole pages would not fit the budget.</summary>
    internal static long DirectFootprint(int size, long capacity)
    {
        long pages = PageRun(size);
        return pages <= capacity ? pages : size;
    }

    /// <summary>The whole pages that hold <paramref name="size"/> bytes.</summary>
    internal static long PageRun(int size) => ((long)size + PageSize - 1) / PageSize * PageSize;
}
