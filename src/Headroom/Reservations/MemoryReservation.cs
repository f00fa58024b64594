using Headroom.Accounting;
using System.Diagnostics;

namespace Headroom;

/// <summary>
/// Memory promised to one transaction before it starts, so that nothing inside it can fail (semantics §5, guarantee G1):
/// a charge of n ≤ <see cref="Remaining"/> is granted at once, never blocks and never fails, whatever other threads do.
/// </summary>
/// <remarks>
/// Use it explicitly (<see cref="TryCharge"/>, <see cref="Charge"/>, <see cref="ChargeAsync"/>) or ambiently
/// (<see cref="Enter"/>). Bytes charged through it are uncharged from the budget as usual and return to ordinary free
/// memory, not to the reservation. Disposing returns exactly <see cref="Remaining"/>; disposing twice is harmless.
/// G1 is the promise of the reservation's budget and its ancestors: a charge at a descendant still meets the
/// descendant's own capacity.
/// </remarks>
[DebuggerDisplay("{Budget.Name,nq}: amount {Amount}, drawn {Drawn}, remaining {Remaining}")]
public sealed partial class MemoryReservation : IDisposable, IAsyncDisposable
{
    /// <summary>The amount and the remainder, moved lock-free; used in place (never copied).</summary>
    private ReservationBalance _balance;

    /// <summary>
    /// A reservation not yet admitted. For a request that may wait, <see cref="Admit"/> fills and lists it when the
    /// budget admits it, on whichever thread grants it; the requester gets it only after that. For one that does not
    /// wait, the caller lists it first (<see cref="LiveReservations.Add"/>), then admits the bytes, then calls
    /// <see cref="AdmitListed"/> or <see cref="Abandon"/>.
    /// </summary>
    internal MemoryReservation(MemoryBudget budget, ReservationMode mode)
    {
        Budget = budget;
        Mode = mode;
        _balance = new ReservationBalance(null);
    }

    /// <summary>
    /// The next reservation in the list of <see cref="LiveReservations"/> that holds this one; written only by that
    /// list's writer (its thread, or, once that thread has ended, whoever prunes the list under its lock).
    /// </summary>
    internal MemoryReservation? NextLive; // a field, for Volatile.Read by readers on other threads

    /// <summary>The consumer whose flow made it (set when the consumer adopts it), for the snapshot.</summary>
    internal MemoryConsumer? Owner { get; set; }

    /// <summary>Gets the budget the reservation was admitted by (it reserves at every ancestor too).</summary>
    public MemoryBudget Budget { get; }

    /// <summary>Gets how charges inside the reservation use it.</summary>
    public ReservationMode Mode { get; }

    /// <summary>Gets the bytes admitted: the first admission, plus growth, less what was shrunk.</summary>
    public long Amount => _balance.Amount;

    /// <summary>
    /// Gets the bytes charges have drawn from the reservation so far: <see cref="Amount"/> − <see cref="Remaining"/>
    /// while it is live. A charge counts from the moment it takes its bytes (as the budget's Used does), and a charge
    /// that is then refused gives them back.
    /// </summary>
    public long Drawn => _balance.Drawn;

    /// <summary>Gets the bytes still promised: <see cref="Amount"/> − <see cref="Drawn"/>, and 0 once disposed.</summary>
    public long Remaining => _balance.Remaining;

    /// <summary>Gets whether the reservation was disposed.</summary>
    public bool IsDisposed => _balance.IsDisposed;

    /// <summary>Gets the raw remainder, for readers walking the live reservations: negative once disposed.</summary>
    internal long RawRemaining => _balance.RawRemaining;

    /// <summary>Gets whether the budget admitted it (false for one listed or queued before its admission).</summary>
    internal bool IsAdmitted => _balance.IsAdmitted;

    /// <summary>Opens an ambient scope: charges on this flow against <see cref="Budget"/> or a descendant go through the reservation.</summary>
    /// <returns>The scope; dispose it to restore the scope that was open before.</returns>
    /// <exception cref="ObjectDisposedException">The reservation was disposed.</exception>
    public AllocationScope Enter()
    {
        ThrowIfDisposed();
        return new AllocationScope(AllocationContext.WithReservation(this));
    }

    /// <summary>Charges <paramref name="bytes"/> to <see cref="Budget"/> through the reservation, without waiting for anyone.</summary>
    /// <param name="bytes">The size; positive and not above the budget's capacity.</param>
    /// <param name="mode">How the excess above <see cref="Remaining"/> is treated; NoFail is refused, as by <see cref="MemoryBudget.TryCharge"/>.</param>
    /// <param name="priority">How deep into the min reserve the excess may go.</param>
    /// <param name="site">An optional name for the caller; its policy applies to the excess as in <see cref="MemoryBudget.TryCharge"/>.</param>
    /// <returns><see langword="true"/> when charged; always when <paramref name="bytes"/> ≤ <see cref="Remaining"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size, mode or priority breaks its rule.</exception>
    /// <exception cref="ObjectDisposedException">The reservation or its budget was disposed.</exception>
    public bool TryCharge(long bytes, AllocationMode mode = AllocationMode.NoWait, AllocationPriority priority = AllocationPriority.Normal, string? site = null)
    {
        Budget.Validate(bytes, mode, priority);
        MemoryBudget.ThrowIfNoFailTry(mode);

        ThrowIfDisposed();
        Budget.ApplySiteToTry(ref mode, ref site);
        return ChargeExplicitly(bytes, mode, priority, site, CancellationToken.None).RefusedBy is null;
    }

    /// <summary>Charges <paramref name="bytes"/> to <see cref="Budget"/> through the reservation; the excess above <see cref="Remaining"/> may block as its mode allows.</summary>
    /// <param name="bytes">The size; positive and not above the budget's capacity.</param>
    /// <param name="mode">How the excess above <see cref="Remaining"/> is treated.</param>
    /// <param name="priority">How deep into the min reserve the excess may go.</param>
    /// <param name="site">An optional name for the caller.</param>
    /// <param name="cancellationToken">Ends a wait for the excess; nothing is left behind.</param>
    /// <exception cref="MemoryAllocationException">The excess was not granted; nothing changed, the reservation included.</exception>
    /// <exception cref="OperationCanceledException">Cancelled while the excess waited; nothing changed.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size, mode or priority breaks its rule.</exception>
    /// <exception cref="ObjectDisposedException">The reservation or its budget was disposed.</exception>
    public void Charge(long bytes, AllocationMode mode = AllocationMode.NoFail, AllocationPriority priority = AllocationPriority.Normal, string? site = null, CancellationToken cancellationToken = default)
    {
        Budget.Validate(bytes, mode, priority);
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        ChargeExplicitly(bytes, mode, priority, site, cancellationToken).Complete(Budget, bytes, mode, site);
    }

    /// <summary>Charges <paramref name="bytes"/> to <see cref="Budget"/> through the reservation; the excess above <see cref="Remaining"/> may wait as its mode allows.</summary>
    /// <param name="bytes">The size; positive and not above the budget's capacity.</param>
    /// <param name="mode">How the excess above <see cref="Remaining"/> is treated.</param>
    /// <param name="priority">How deep into the min reserve the excess may go.</param>
    /// <param name="site">An optional name for the caller.</param>
    /// <param name="cancellationToken">Ends a wait for the excess; nothing is left behind.</param>
    /// <returns>A task completed synchronously, without allocating, whenever the reservation covers the charge.</returns>
    /// <exception cref="MemoryAllocationException">The excess was not granted; nothing changed, the reservation included.</exception>
    /// <exception cref="OperationCanceledException">Cancelled while the excess waited; nothing changed.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size, mode or priority breaks its rule.</exception>
    /// <exception cref="ObjectDisposedException">The reservation or its budget was disposed.</exception>
    public ValueTask ChargeAsync(long bytes, AllocationMode mode = AllocationMode.NoFail, AllocationPriority priority = AllocationPriority.Normal, string? site = null, CancellationToken cancellationToken = default)
    {
        Budget.Validate(bytes, mode, priority);
        ThrowIfDisposed();
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        // The excess's direct reclaim is awaited, not run on this thread; a cancellation during it cancels the task.
        MemoryConsumer? consumer = AllocationContext.Current?.Consumer; // read before any wait: the charge is this flow's
        ValueTask<ChargeOutcome> decided = ChargeWithinAsync(Budget, bytes, mode, priority, site, cancellationToken);
#pragma warning disable RS0030 // read only once completed: nothing blocks
        return decided.IsCompletedSuccessfully ? Attributed(decided.Result, consumer, bytes).AsValueTask(Budget, bytes, mode, site) : ChargedAsync(decided, consumer, bytes, mode, site);
#pragma warning restore RS0030
    }

    /// <summary>Returns <paramref name="bytes"/> of the reservation early, to ordinary free memory.</summary>
    /// <param name="bytes">The size; positive and not above <see cref="Remaining"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bytes"/> is not positive or exceeds <see cref="Remaining"/>; nothing changed.</exception>
    /// <exception cref="ObjectDisposedException">The reservation was disposed.</exception>
    public void Shrink(long bytes)
    {
        if (bytes <= 0)
        {
            MemoryBudget.ThrowNotPositive(bytes);
        }

        if (!_balance.TryShrink(bytes, out long remaining))
        {
            ThrowIfDisposed(remaining);
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes,
                $"Cannot shrink the reservation on budget '{Budget.Name}' by {bytes} bytes: only {remaining} bytes remain.");
        }

        // Remaining dropped (a locked instruction) before Committed: a reading of Used in progress must see both or neither.
        bool bracketed = Budget.Tree.Releases.BeginIfWatched();
        Budget.EndRelease(bytes, AllocationContext.Current, bracketed);
    }

    /// <summary>Grows the reservation by <paramref name="bytes"/> if the budget can admit them now; growing is a new admission.</summary>
    /// <param name="bytes">The size; positive and at most Capacity − Min at the budget and every ancestor.</param>
    /// <returns><see langword="true"/> when admitted; <see langword="false"/> with nothing changed.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bytes"/> breaks its rule.</exception>
    /// <exception cref="ObjectDisposedException">The reservation or its budget was disposed.</exception>
    public bool TryGrow(long bytes)
    {
        Budget.ValidateReservation(bytes, Mode);
        ThrowIfDisposed();
        if (!Budget.TryAdmit(bytes))
        {
            return false;
        }

        if (!AdmitOrRelease(bytes))
        {
            throw DisposedDuringGrowth(bytes);
        }

        return true;
    }

    /// <summary>
    /// Grows the reservation by <paramref name="bytes"/>, waiting for admission if needed. Calling it is the explicit
    /// opt-in to waiting while holding this reservation.
    /// </summary>
    /// <param name="bytes">The size; positive and at most Capacity − Min at the budget and every ancestor.</param>
    /// <param name="cancellationToken">Ends the wait; the reservation stays as it was.</param>
    /// <returns>A task that completes when the growth was admitted.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bytes"/> breaks its rule.</exception>
    /// <exception cref="OperationCanceledException">Cancelled before it was admitted.</exception>
    /// <exception cref="ObjectDisposedException">The reservation or its budget was disposed.</exception>
    public ValueTask GrowAsync(long bytes, CancellationToken cancellationToken = default)
    {
        Budget.ValidateReservation(bytes, Mode);
        ThrowIfDisposed();
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        ValueTask<Task?> decided = Budget.AdmitOrWaitAsync(bytes, this, cancellationToken);
#pragma warning disable RS0030 // read only once completed: nothing blocks
        return !decided.IsCompletedSuccessfully ? GrownAsync(decided) : decided.Result is { } wait ? new ValueTask(wait) : default;
#pragma warning restore RS0030
    }

    /// <summary>Returns exactly <see cref="Remaining"/> to the budget. Disposing twice is harmless.</summary>
    public void Dispose()
    {
        if (!_balance.TryClose(out long remaining))
        {
            return; // disposed already, or another dispose won the race
        }

        // Remaining dropped (a locked instruction) before Committed: a reading of Used in progress must see both or neither.
        bool bracketed = Budget.Tree.Releases.BeginIfWatched();
        Budget.EndRelease(remaining, AllocationContext.Current, bracketed); // the mark of a live reservation is a reading's to clear
    }

    /// <summary>Returns exactly <see cref="Remaining"/> to the budget. Disposing twice is harmless.</summary>
    /// <returns>A completed task.</returns>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return default;
    }

    /// <summary>An explicit charge through the reservation, attributed to the flow's consumer like any other charge.</summary>
    private ChargeOutcome ChargeExplicitly(long bytes, AllocationMode mode, AllocationPriority priority, string? site, CancellationToken cancellationToken) =>
        Attributed(ChargeWithin(Budget, bytes, mode, priority, site, cancellationToken), AllocationContext.Current?.Consumer, bytes);

    private static ChargeOutcome Attributed(ChargeOutcome outcome, MemoryConsumer? consumer, long bytes) => consumer is null ? outcome : consumer.Attribute(outcome, bytes);

    private async ValueTask ChargedAsync(ValueTask<ChargeOutcome> decided, MemoryConsumer? consumer, long bytes, AllocationMode mode, string? site)
    {
        ChargeOutcome outcome = await decided.ConfigureAwait(false);
        await Attributed(outcome, consumer, bytes).AsValueTask(Budget, bytes, mode, site).ConfigureAwait(false);
    }

    /// <summary>
    /// Puts bytes the budget admitted (Committed counts them already) into the reservation: the first admission of one
    /// made for a wait fills and lists it; a growth joins <see cref="Remaining"/>. False, with nothing changed, when
    /// the reservation was disposed meanwhile: the caller returns the bytes. A grant calls it under the tree's lock.
    /// </summary>
    internal bool Admit(long bytes)
    {
        if (_balance.Fill(bytes, out bool refused))
        {
            Budget.Tree.Reservations.Add(this); // the first admission: from now on Reserved counts it
            Interlocked.MemoryBarrier(); // listed, then marked: see BudgetCounter.NoteLiveReservation
            Budget.Counter.NoteLiveReservation();
        }

        return !refused;
    }

    /// <summary>
    /// Fills a reservation its caller listed before the budget admitted <paramref name="bytes"/> (Committed counts them
    /// now): the admission's compare-and-swap came after the listing, so it is the full fence that marking the levels
    /// needs (<see cref="BudgetCounter.NoteLiveReservation"/>). Nobody else holds it yet.
    /// </summary>
    internal MemoryReservation AdmitListed(long bytes)
    {
        _balance.Fill(bytes, out _);
        Budget.Counter.NoteLiveReservation();
        return Adopted();
    }

    /// <summary>The admission of a reservation listed before it was refused: it counts as disposed, and its list prunes it.</summary>
    internal void Abandon() => _balance.Abandon();

    /// <summary><see cref="Admit"/> outside the tree's lock: bytes that a reservation disposed meanwhile cannot take go straight back (false).</summary>
    internal bool AdmitOrRelease(long bytes)
    {
        if (Admit(bytes))
        {
            return true;
        }

        Budget.ReleaseReserved(bytes);
        return false;
    }

    /// <summary>A growth admitted after the reservation was disposed: the bytes went back, and the caller learns why.</summary>
    internal ObjectDisposedException DisposedDuringGrowth(long bytes) =>
        new(ObjectName, $"The reservation on budget '{Budget.Name}' was disposed while it grew by {bytes} bytes; the growth was given back.");

    /// <summary>Adopts the reservation into the flow's consumer, if any: reapable by the OOM killer if that consumer is chosen.</summary>
    internal MemoryReservation Adopted()
    {
        AllocationContext.Current?.Consumer?.Adopt(this);
        return this;
    }

    private static async ValueTask GrownAsync(ValueTask<Task?> decided)
    {
        if (await decided.ConfigureAwait(false) is { } wait)
        {
            await wait.ConfigureAwait(false);
        }
    }

    /// <summary>What a use after dispose names: the reservation by its budget (semantics §10).</summary>
    private string ObjectName => $"{nameof(MemoryReservation)} on '{Budget.Name}'";

    /// <summary>Throws when the reservation was disposed; pools bound to it refuse through this too, naming it the same way.</summary>
    internal void ThrowIfDisposed() => ThrowIfDisposed(_balance.RawRemaining);

    private void ThrowIfDisposed(long remaining)
    {
        if (remaining < 0)
        {
            throw new ObjectDisposedException(ObjectName, $"The reservation on budget '{Budget.Name}' was disposed.");
        }
    }
}
