using Headroom.Accounting;
namespace Headroom.Waiting;

/// <summary>
/// The class a charge waits in (semantics §3): FIFO holds among callers of one class, and a class with a deeper floor
/// is never held behind the queue of a shallower one, since its reserve exists to be reached past them. Ordinary
/// callers (the fast path's Low and the slow path's Min) form one class, whatever their mode.
/// </summary>
internal static class WaitClass
{
    /// <summary>The number of classes: ordinary, high, atomic, reclaim.</summary>
    internal const int Count = 4;

    /// <summary>The class of <paramref name="floor"/>: 0 for ordinary callers, deeper floors higher.</summary>
    internal static int Of(Floor floor) => floor switch
    {
        Floor.Low or Floor.Min => 0,
        Floor.HalfMin => 1,
        Floor.Atomic => 2,
        _ => 3,
    };
}
