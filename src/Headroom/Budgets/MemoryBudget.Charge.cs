using Headroom.Accounting;
using Headroom.Waiting;
using Headroom.Diagnostics;
using Headroom.Reclaim;
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Headroom;

/// <summary>Charging and uncharging: the fast path, the slow path of semantics §2 and §3, and the wait queue's entry.</summary>
public sealed partial class MemoryBudget
{
    /// <summary>Linux's MAX_RECLAIM_RETRIES: direct-reclaim passes in a row without progress before giving up.</summary>
    internal const int MaxReclaimRetries = 16;

    /// <summary>Charges <paramref name="bytes"/> if the budget can grant them without waiting for anyone.</summary>
    /// <param name="bytes">The size; positive and not above <see cref="Capacity"/>.</param>
    /// <param name="mode">
    /// What to do without room: <see cref="AllocationMode.NoWait"/> gives up at once; <see cref="AllocationMode.MayFail"/>
    /// and <see cref="AllocationMode.RetryMayFail"/> first run their direct reclaim in the caller.
    /// <see cref="AllocationMode.NoFail"/> is refused: it waits until granted, so use <see cref="Charge"/> or <see cref="ChargeAsync"/>.
    /// </param>
    /// <param name="priority">How deep into the min reserve the slow path may go.</param>
    /// <param name="site">
    /// An optional name for the caller; its <see cref="SitePolicy"/> applies as in <see cref="Charge"/>, except that a try
    /// never waits: a policy that would make the site wait makes the try reclaim as <see cref="AllocationMode.RetryMayFail"/> does.
    /// </param>
    /// <returns><see langword="true"/> when charged; <see langword="false"/> when refused, with no counter changed.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size, mode or priority breaks its rule.</exception>
    /// <exception cref="ObjectDisposedException">The budget was disposed.</exception>
    public bool TryCharge(long bytes, AllocationMode mode = AllocationMode.NoWait, AllocationPriority priority = AllocationPriority.Normal, string? site = null)
    {
        Validate(bytes, mode, priority);
        ThrowIfNoFailTry(mode);

        ApplySiteToTry(ref mode, ref site);
        return ChargeCore(bytes, mode, priority, site, CancellationToken.None).RefusedBy is null;
    }

    /// <summary>Charges <paramref name="bytes"/>, blocking the calling thread as <paramref name="mode"/> allows.</summary>
    /// <param name="bytes">The size; positive and not above <see cref="Capacity"/>.</param>
    /// <param name="mode">What to do without room (semantics §3).</param>
    /// <param name="priority">How deep into the min reserve the slow path may go.</param>
    /// <param name="site">An optional name for the caller, reported in warnings and exceptions.</param>
    /// <param name="cancellationToken">Ends a wait; a cancelled charge leaves nothing behind.</param>
    /// <exception cref="MemoryAllocationException">Not granted (never for <see cref="AllocationMode.NoFail"/> unless a <see cref="SitePolicy"/> bounds the site); nothing changed.</exception>
    /// <exception cref="OperationCanceledException">Cancelled before it was granted; nothing changed.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size, mode or priority breaks its rule.</exception>
    /// <exception cref="ObjectDisposedException">The budget was disposed, before or during the wait.</exception>
    public void Charge(long bytes, AllocationMode mode, AllocationPriority priority = AllocationPriority.Normal, string? site = null, CancellationToken cancellationToken = default)
    {
        Validate(bytes, mode, priority);
        cancellationToken.ThrowIfCancellationRequested();
        ChargeCore(bytes, mode, priority, site, cancellationToken).Complete(this, bytes, mode, site);
    }

    /// <summary>Charges <paramref name="bytes"/>, waiting asynchronously as <paramref name="mode"/> allows.</summary>
    /// <param name="bytes">The size; positive and not above <see cref="Capacity"/>.</param>
    /// <param name="mode">What to do without room (semantics §3).</param>
    /// <param name="priority">How deep into the min reserve the slow path may go.</param>
    /// <param name="site">An optional name for the caller, reported in warnings and exceptions.</param>
    /// <param name="cancellationToken">Ends a wait; a cancelled charge leaves nothing behind.</param>
    /// <returns>A task that completes when charged; it completes synchronously, without allocating, when there is room.</returns>
    /// <exception cref="MemoryAllocationException">Not granted (never for <see cref="AllocationMode.NoFail"/> unless a <see cref="SitePolicy"/> bounds the site); nothing changed.</exception>
    /// <exception cref="OperationCanceledException">Cancelled before it was granted; nothing changed.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size, mode or priority breaks its rule.</exception>
    /// <exception cref="ObjectDisposedException">The budget was disposed, before or during the wait.</exception>
    public ValueTask ChargeAsync(long bytes, AllocationMode mode, AllocationPriority priority = AllocationPriority.Normal, string? site = null, CancellationToken cancellationToken = default)
    {
        Validate(bytes, mode, priority);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        if (mode != AllocationMode.NoWait)
        {
            // Direct reclaim awaited, not run on this thread, inside a reservation's or a consumer's scope too.
            return AllocationContext.Current is { } context
                ? ChargeDecidedAsync(ChargeInContext(context, bytes, mode, priority, site, awaitReclaim: true, cancellationToken), bytes, mode, site)
                : ChargeOrdinaryAsync(bytes, mode, priority, site, cancellationToken);
        }

        try
        {
            return ChargeCore(bytes, mode, priority, site, cancellationToken).AsValueTask(this, bytes, mode, site);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken); // cancelled during direct reclaim
        }
    }

    /// <summary>Returns <paramref name="bytes"/> charged to this budget; waiters that now fit are granted, in order.</summary>
    /// <param name="bytes">The size; positive and not above <see cref="Used"/>. Uncharge the budget you charged.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bytes"/> is not positive or exceeds <see cref="Used"/>; nothing changed.</exception>
    /// <remarks>
    /// Allowed after <see cref="Dispose"/>, so that holders can unwind. The bytes are credited to the consumer current
    /// on this flow, if any; a charge held as a <see cref="ChargeLease"/> credits the consumer that made it instead.
    /// The check is exact and costs one read while no reservation is live at or below this budget; while one is, Used
    /// is read by walking them, and only a reading that no reservation's release overlapped refuses. It covers this budget only: uncharging a parent for what a child charged is not caught
    /// (a lease cannot make that mistake). While other threads' stocks hold bytes of this budget (see
    /// <see cref="Stocked"/>), an uncharge above Used by no more than they hold may pass the check; it then shows
    /// when the stocks are drained, logged and repaired as Committed below zero.
    /// </remarks>
    public void Uncharge(long bytes) => Uncharge(bytes, AllocationContext.Current?.Consumer);

    /// <summary>The uncharge of <see cref="Uncharge(long)"/>, credited to <paramref name="consumer"/>.</summary>
    internal void Uncharge(long bytes, MemoryConsumer? consumer)
    {
        if (bytes <= 0)
        {
            ThrowNotPositive(bytes);
        }

        // Used is Committed while no reservation is live here: one read. Otherwise Used is read by walking them, and
        // only a reading that no release overlapped may refuse (one that did can read lower than Used ever was).
        if (Counter.HasLiveReservations && ReadUsed(out _, out _, out bool exact) is var used && bytes > used && exact)
        {
            ThrowUnchargeTooLarge(bytes, used);
        }

        if (Stocks.Stock.TryUncharge(this, bytes))
        {
            consumer?.Attribute(-bytes);
            return; // into this thread's stock (semantics §1)
        }

        DrainIfUnchargeExceedsUsed(bytes);
        if (!Counter.TryUncharge(bytes, out long committed))
        {
            ThrowUnchargeTooLarge(bytes, committed);
        }

        consumer?.Attribute(-bytes);
        AllocationContext.Current?.Reclaiming?.Add(bytes); // inside a reclaimer, what it releases is its progress
    }

    /// <summary>
    /// Every charge of the three entry points: inside the flow's reservation when one covers this budget (semantics §5),
    /// else the fast path and, when it refuses, the slow path.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ChargeOutcome ChargeCore(long bytes, AllocationMode mode, AllocationPriority priority, string? site, CancellationToken cancellationToken)
    {
        return AllocationContext.Current is { } context
            ? Decided(ChargeInContext(context, bytes, mode, priority, site, awaitReclaim: false, cancellationToken))
            : ChargeOrdinary(bytes, mode, priority, site, cancellationToken);

#pragma warning disable RS0030 // without awaitReclaim nothing in it yields: the outcome is read from a completed task
        static ChargeOutcome Decided(ValueTask<ChargeOutcome> decided)
        {
            Debug.Assert(decided.IsCompleted, "a charge in context without awaitReclaim yielded: reading it would block");
            return decided.Result;
        }
#pragma warning restore RS0030
    }

    /// <summary>
    /// A charge on a flow with an open scope. Inside a reclaimer (PF_MEMALLOC) it may use the whole min reserve, jumps
    /// the queue and never recurses into reclaim; inside a reservation that covers this budget it goes through it. With awaitReclaim (the asynchronous entry point) direct reclaim is awaited; without it nothing here yields.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<ChargeOutcome> ChargeInContext(AllocationContext context, long bytes, AllocationMode mode, AllocationPriority priority, string? site, bool awaitReclaim, CancellationToken cancellationToken)
    {
        if (context.Consumer is not { } consumer)
        {
            return ChargeInScopes(context, bytes, mode, priority, site, awaitReclaim, cancellationToken);
        }

        if (consumer.IsKilled && Counter.TryCharge(bytes, Floor.HalfMin, Ticket.Jump, locked: false) is null)
        {
            consumer.Attribute(bytes); // an OOM victim unwinding may use half the min reserve (ALLOC_OOM)
            return default;
        }

        ValueTask<ChargeOutcome> decided = ChargeInScopes(context, bytes, mode, priority, site, awaitReclaim, cancellationToken);
#pragma warning disable RS0030 // read only once completed: nothing blocks
        return decided.IsCompletedSuccessfully ? new(consumer.Attribute(decided.Result, bytes)) : AttributedAsync(decided, consumer, bytes);
#pragma warning restore RS0030

        static async ValueTask<ChargeOutcome> AttributedAsync(ValueTask<ChargeOutcome> decided, MemoryConsumer consumer, long bytes) =>
            consumer.Attribute(await decided.ConfigureAwait(false), bytes);
    }

    private ValueTask<ChargeOutcome> ChargeInScopes(AllocationContext context, long bytes, AllocationMode mode, AllocationPriority priority, string? site, bool awaitReclaim, CancellationToken cancellationToken)
    {
        if (context.Reclaiming is { IsOpen: true } progress)
        {
            MemoryBudget? refusedBy = Counter.TryCharge(bytes, Floor.None, Ticket.Jump, locked: false);
            using Stocks.StockSuspension stocks = refusedBy is null ? default : SuspendStocks(bytes, Floor.None, Ticket.Jump, ref refusedBy);
            if (refusedBy is null)
            {
                progress.Add(-bytes); // progress is what the reclaimer gives back net of what it takes
            }
            else if (mode != AllocationMode.NoFail)
            {
                ObserveRefusal(mode);
            }

            return refusedBy is null ? default
                : mode != AllocationMode.NoFail ? new(new ChargeOutcome(refusedBy, null))
                : new(new ChargeOutcome(null, Wait(bytes, Floor.None, mode, site, admits: null, jump: true, cancellationToken)));
        }

        if (context.Covering(this) is { } reservation)
        {
            return awaitReclaim ? reservation.ChargeWithinAsync(this, bytes, mode, priority, site, cancellationToken)
                : new(reservation.ChargeWithin(this, bytes, mode, priority, site, cancellationToken));
        }

        return awaitReclaim ? ChargeOrdinaryOutcomeAsync(bytes, mode, priority, site, cancellationToken)
            : new(ChargeOrdinary(bytes, mode, priority, site, cancellationToken));
    }

    /// <summary>A charge of ordinary memory: the fast path and, when it refuses, the slow path.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ChargeOutcome ChargeOrdinary(long bytes, AllocationMode mode, AllocationPriority priority, string? site, CancellationToken cancellationToken)
    {
        if (Stocks.Stock.TryCharge(this, bytes))
        {
            return default; // from this thread's stock (semantics §1)
        }

        MemoryBudget? refusedBy = Counter.TryCharge(bytes, Floor.Low, Ticket.Arrival, locked: false);
        return refusedBy is null ? default : ChargeSlow(bytes, mode, priority, site, refusedBy, cancellationToken);
    }

    /// <summary>What the slow path does for this charge: the site's policy, the mode it makes effective, and the floor; a NoFail charge that could never be granted is refused here.</summary>
    private (SitePolicy? Policy, AllocationMode Effective, Floor Floor) SlowPlan(long bytes, AllocationMode mode, AllocationPriority priority, string? site)
    {
        SitePolicy? policy = Tree.SitePolicy(site);
        AllocationMode effective = policy?.Apply(mode) ?? mode;
        Floor floor = SlowFloor(effective, priority);
        if (effective == AllocationMode.NoFail)
        {
            CheckGrantable(bytes, floor);
        }

        return (policy, effective, floor);
    }

    /// <summary>
    /// The slow path after the fast path refused: granted, refused, or (NoFail) the wait. A site's policy changes what
    /// the charge does; the mode it reports stays the caller's.
    /// </summary>
    internal ChargeOutcome ChargeSlow(long bytes, AllocationMode mode, AllocationPriority priority, string? site, MemoryBudget refusedBy, CancellationToken cancellationToken)
    {
        MemoryBudget? drainedRefusal = refusedBy;
        using Stocks.StockSuspension stocks = SuspendStocks(bytes, Floor.Low, Ticket.Arrival, ref drainedRefusal); // until it decides (semantics §1)
        if (drainedRefusal is null)
        {
            return default;
        }

        (SitePolicy? policy, AllocationMode effective, Floor floor) = SlowPlan(bytes, mode, priority, site);
        MemoryBudget? refused = ChargeWithoutWaiting(bytes, effective, floor, refusedBy, policy?.MaxRetries ?? MaxReclaimRetries, cancellationToken);
        return AfterDirectReclaim(bytes, mode, effective, floor, policy, site, refused, cancellationToken);
    }

    /// <summary>The slow path once direct reclaim is done (<paramref name="refused"/> null: granted): refused, or for NoFail the OOM killer and the wait.</summary>
    private ChargeOutcome AfterDirectReclaim(long bytes, AllocationMode mode, AllocationMode effective, Floor floor, SitePolicy? policy, string? site, MemoryBudget? refused, CancellationToken cancellationToken)
    {
        if (refused is null)
        {
            return default;
        }

        if (effective != AllocationMode.NoFail)
        {
            ObserveRefusal(mode);
            return new ChargeOutcome(refused, null);
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (policy?.MaxWait is { } maxWait)
        {
            return new ChargeOutcome(null, WaitAtMost(maxWait, bytes, floor, mode, site, cancellationToken)); // may fail: no OOM kill for it
        }

        // NoFail after the OOM killer ran may use half the min reserve (ALLOC_OOM).
        return KillOrWait(bytes, refused, floor, Floor.HalfMin, mode, site, admits: null, cancellationToken) is { } wait ? new ChargeOutcome(null, wait) : default;
    }

    /// <summary>The exception for a charge that was refused by <paramref name="refusedBy"/>.</summary>
    internal MemoryAllocationException Refusal(long bytes, AllocationMode mode, string? site, MemoryBudget refusedBy)
    {
        MemoryBudgetSnapshot here = GetSnapshot(); // each reading may walk the live reservations: once per level
        return new(bytes, mode, site, here, refusedBy == this ? here : refusedBy.GetSnapshot());
    }

    /// <summary>
    /// Semantics §2 and §3 short of waiting: wake background reclaim, retry at the slow-path floor, then run the
    /// mode's direct reclaim. Returns null when granted, else the level that refused last.
    /// </summary>
    internal MemoryBudget? ChargeWithoutWaiting(long bytes, AllocationMode mode, Floor floor, MemoryBudget refusedBy, int maxPassesWithoutProgress, CancellationToken cancellationToken)
    {
        IReclaimDriver reclaim = Tree.Reclaim;
        var passes = new DirectReclaim(this, bytes, mode, floor, refusedBy, maxPassesWithoutProgress);
        bool stalled = false; // a memory stall for pressure while it reclaims (psi_memstall_enter)
        try
        {
            while (passes.NextPass(reclaim, cancellationToken, out long target))
            {
                stalled = stalled || BeginReclaimStall();
                passes.AfterPass(reclaim.ReclaimDirect(passes.Refused!, target, cancellationToken), cancellationToken);
            }
        }
        finally
        {
            if (stalled)
            {
                DirectReclaimEnds();
            }
        }

        return passes.Refused;
    }

    internal static Floor SlowFloor(AllocationMode mode, AllocationPriority priority) => priority == AllocationPriority.Normal
        ? Floor.Min
        : mode == AllocationMode.NoWait ? Floor.Atomic : Floor.HalfMin;
}
