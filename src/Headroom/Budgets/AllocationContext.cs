namespace Headroom;

/// <summary>
/// The flow's allocation context: Linux's memalloc scope flags in <c>current-&gt;flags</c>, plus the ambient reservation.
/// Immutable; a scope installs a derived copy and restores the previous one. It flows through <see langword="await"/>
/// as an <see cref="AsyncLocal{T}"/>, and costs a charge one thread-static read whether or not any scope is open.
/// </summary>
internal sealed record AllocationContext
{
    // The flow's value is mirrored into a thread-static on every change the runtime makes on this thread (a scope's
    // install or restore, an await resuming another flow here), as CultureInfo.CurrentCulture does: reading it is then
    // one thread-static load, where Flow.Value would search the execution context on every charge and uncharge. The
    // callback is one store and nothing else: an exception thrown in it (an allocation's OutOfMemoryException, a
    // thread interrupted there) ends the process, so it neither allocates nor calls (a mirror in PerThread did both
    // and crashed the Coyote run when Coyote interrupted a thread inside it).
    // The mirror is a field of PerThread's type, beside the thread's stock and caches: fields of one type share one
    // lookup of the thread-static block, so a rent that reads both pays one.
    private static readonly AsyncLocal<AllocationContext?> Flow = new(static change => PerThread.t_context = change.CurrentValue);

    private static readonly AllocationContext Empty = new();

    /// <summary>Gets the flow's context, or null: one thread-static read.</summary>
    internal static AllocationContext? Current => PerThread.t_context;

    /// <summary>The ambient reservation (semantics §5).</summary>
    internal MemoryReservation? Reservation { get; private init; }

    /// <summary>Reclaim domains this flow's reclaim must skip (GFP_NOFS done as <c>memalloc_nofs_save</c>).</summary>
    internal string[] NoReclaim { get; private init; } = [];

    /// <summary>Reclaim started by this flow skips reclaimers that do I/O (<c>memalloc_noio_save</c>).</summary>
    internal bool NoIo { get; private init; }

    /// <summary>Non-null inside a reclaimer (PF_MEMALLOC): no recursion into reclaim, no floor, and uncharges count as progress.</summary>
    internal ReclaimProgress? Reclaiming { get; private init; }

    /// <summary>The consumer this flow's charges, reservations and uncharges are attributed to (semantics §7).</summary>
    internal MemoryConsumer? Consumer { get; private init; }

    internal static AllocationContext WithReservation(MemoryReservation reservation) => Derive() with { Reservation = reservation };

    internal static AllocationContext WithNoReclaim(string domain)
    {
        AllocationContext c = Derive();
        return c.NoReclaim.Contains(domain, StringComparer.Ordinal) ? c with { } : c with { NoReclaim = [.. c.NoReclaim, domain] };
    }

    internal static AllocationContext WithNoIo() => Derive() with { NoIo = true };

    /// <summary>A reclaimer's context: its uncharges are reclaim progress, not the work of the consumer whose charge started reclaim.</summary>
    internal static AllocationContext InReclaim(ReclaimProgress progress) => Derive() with { Reclaiming = progress, Consumer = null };

    internal static AllocationContext WithConsumer(MemoryConsumer consumer) => Derive() with { Consumer = consumer };

    /// <summary>Installs <paramref name="context"/> on this flow; returns what it replaced.</summary>
    internal static AllocationContext? Install(AllocationContext context)
    {
        AllocationContext? previous = Flow.Value;
        Flow.Value = context;
        return previous;
    }

    /// <summary>True when <paramref name="context"/> is this flow's context now: the scope that installed it is the innermost open one.</summary>
    internal static bool IsInstalled(AllocationContext context) => ReferenceEquals(Flow.Value, context);

    /// <summary>Restores what <see cref="Install"/> replaced.</summary>
    internal static void Restore(AllocationContext? previous) => Flow.Value = previous;

    /// <summary>The flow's live reservation if it is on <paramref name="budget"/> or an ancestor of it; else null.</summary>
    internal MemoryReservation? Covering(MemoryBudget budget) =>
        Reservation is { IsDisposed: false } reservation && budget.IsWithin(reservation.Budget) ? reservation : null;

    private static AllocationContext Derive() => Flow.Value ?? Empty;
}
