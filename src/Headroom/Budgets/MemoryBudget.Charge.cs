using Headroom.Accounting;
using Headroom.Waiting;
using Headroom.Diagnostics;
using Headroom.Reclaim;
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Headroom;

/// <summary>Charging and uncharging: the entry points and the fast path; the slow path is in MemoryBudget.Slow.cs.</summary>
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
    /// The check is exact and costs one read while no reservation is live at or below this budget (from the first
    /// reading after the last was disposed); while one is, Used is read by walking them, and it refuses only what several readings in a row refuse. It covers this budget only: uncharging a parent for what a child charged is not caught
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

        // Used is Committed while no reservation is live here: one read. Otherwise Used is read by walking them, first
        // without announcing the reading (no locked instruction): a low reading only sends it to the announced ones.
        if (Counter.HasLiveReservations && ReadUsedUnannounced() is var used && bytes > used)
        {
            CheckUnchargeAgainstReadings(bytes, used);
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
    /// A walked reading of Used refused the uncharge. A reading can be lower than Used ever was when bytes move between
    /// the remainders and Committed while it reads (see <see cref="ReadUsed(out long, out long, out bool)"/>: a draw then
    /// an uncharge, a stock's take then an uncharge), if only for that instant. So it reads again, giving the racing
    /// moves time to finish, and refuses only what every reading refuses.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CheckUnchargeAgainstReadings(long bytes, long used)
    {
        var spin = default(SpinWait);
        for (int reading = 0; reading < 16; reading++)
        {
            spin.SpinOnce(sleep1Threshold: -1);
            long again = ReadUsed(out _);
            if (bytes <= again)
            {
                return;
            }

            used = Math.Max(used, again);
        }

        ThrowUnchargeTooLarge(bytes, used);
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
}
