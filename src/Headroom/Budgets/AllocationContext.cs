namespace Headroom;

/// <summary>
/// The flow's allocation context: Linux's memalloc scope flags in <c>current-&gt;flags</c>, plus the ambient reservation.
/// Immutable; a scope installs a derived copy and restores the previous one. It flows through <see langword="await"/>
/// as an <see cref="AsyncLocal{T}"/>, and costs charges one static read while no scope is open anywhere.
/// </summary>
internal sealed class AllocationContext
{
    private static readonly AsyncLocal<AllocationContext?> Flow = new();

    /// <summary>Scopes open in the process; while none is, charges and uncharges skip the flow lookup.</summary>
    private static int s_open;

    private AllocationContext(MemoryReservation? reservation, string[] noReclaim, bool noIo, ReclaimProgress? reclaiming)
    {
        Reservation = reservation;
        NoReclaim = noReclaim;
        NoIo = noIo;
        Reclaiming = reclaiming;
    }

    /// <summary>Gets the flow's context, or null; a single static read while no scope is open anywhere.</summary>
    internal static AllocationContext? Current => Volatile.Read(ref s_open) == 0 ? null : Flow.Value;

    /// <summary>The ambient reservation (semantics §5).</summary>
    internal MemoryReservation? Reservation { get; }

    /// <summary>Reclaim domains this flow's reclaim must skip (GFP_NOFS done as <c>memalloc_nofs_save</c>).</summary>
    internal string[] NoReclaim { get; }

    /// <summary>Reclaim started by this flow skips reclaimers that do I/O (<c>memalloc_noio_save</c>).</summary>
    internal bool NoIo { get; }

    /// <summary>Non-null inside a reclaimer (PF_MEMALLOC): no recursion into reclaim, no floor, and uncharges count as progress.</summary>
    internal ReclaimProgress? Reclaiming { get; }

    internal static AllocationContext WithReservation(MemoryReservation reservation)
    {
        AllocationContext? c = Flow.Value;
        return new(reservation, c?.NoReclaim ?? [], c?.NoIo ?? false, c?.Reclaiming);
    }

    internal static AllocationContext WithNoReclaim(string domain)
    {
        AllocationContext? c = Flow.Value;
        string[] domains = c?.NoReclaim ?? [];
        return new(c?.Reservation, domains.Contains(domain, StringComparer.Ordinal) ? domains : [.. domains, domain], c?.NoIo ?? false, c?.Reclaiming);
    }

    internal static AllocationContext WithNoIo()
    {
        AllocationContext? c = Flow.Value;
        return new(c?.Reservation, c?.NoReclaim ?? [], noIo: true, c?.Reclaiming);
    }

    internal static AllocationContext InReclaim(ReclaimProgress progress)
    {
        AllocationContext? c = Flow.Value;
        return new(c?.Reservation, c?.NoReclaim ?? [], c?.NoIo ?? false, progress);
    }

    /// <summary>Installs <paramref name="context"/> on this flow; returns what it replaced.</summary>
    internal static AllocationContext? Install(AllocationContext context)
    {
        AllocationContext? previous = Flow.Value;
        Flow.Value = context;
        Interlocked.Increment(ref s_open);
        return previous;
    }

    /// <summary>Restores what <see cref="Install"/> replaced.</summary>
    internal static void Restore(AllocationContext? previous)
    {
        Flow.Value = previous;
        Interlocked.Decrement(ref s_open);
    }

    /// <summary>The flow's live reservation if it is on <paramref name="budget"/> or an ancestor of it; else null.</summary>
    internal MemoryReservation? Covering(MemoryBudget budget)
    {
        if (Reservation is not { IsDisposed: false } reservation)
        {
            return null;
        }

        for (MemoryBudget? level = budget; level is not null; level = level.Parent)
        {
            if (level == reservation.Budget)
            {
                return reservation;
            }
        }

        return null;
    }
}
