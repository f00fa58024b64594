namespace Headroom;

/// <summary>
/// The draw path (semantics §5, G1): a charge inside the reservation takes what it can from it, charges the levels
/// between its target and the reservation's budget, and treats the excess as ordinary memory; a refusal or a wait
/// that ends without a grant gives back what it took.
/// </summary>
public sealed partial class MemoryReservation
{
    /// <summary>
    /// A charge of <paramref name="bytes"/> at <paramref name="target"/> (this budget or a descendant) inside the
    /// reservation. Watermark mode tries ordinary memory first without blocking; then it takes what it can from the
    /// reservation and treats the excess by its mode. A refusal or a cancelled wait gives back what it took.
    /// </summary>
    internal ChargeOutcome ChargeWithin(MemoryBudget target, long bytes, AllocationMode mode, AllocationPriority priority, string? site, CancellationToken cancellationToken)
    {
        if (Covers(target, bytes, mode, priority, out long drawn))
        {
            return default;
        }

        ChargeOutcome excess;
        try
        {
            excess = target.ChargeOrdinary(bytes - drawn, mode, priority, site, cancellationToken);
        }
        catch
        {
            Unwind(target, drawn);
            throw;
        }

        return AfterExcess(excess, target, drawn);
    }

    /// <summary><see cref="ChargeWithin"/> with the excess's direct reclaim awaited, the caller's token reaching the reclaimers.</summary>
    internal ValueTask<ChargeOutcome> ChargeWithinAsync(MemoryBudget target, long bytes, AllocationMode mode, AllocationPriority priority, string? site, CancellationToken cancellationToken)
    {
        if (Covers(target, bytes, mode, priority, out long drawn))
        {
            return default;
        }

        ValueTask<ChargeOutcome> excess;
        try
        {
            excess = target.ChargeOrdinaryOutcomeAsync(bytes - drawn, mode, priority, site, cancellationToken);
        }
        catch
        {
            Unwind(target, drawn);
            throw;
        }

#pragma warning disable RS0030 // read only once completed: nothing blocks
        return excess.IsCompletedSuccessfully ? new(AfterExcess(excess.Result, target, drawn)) : AfterExcessAsync(excess, target, drawn);
#pragma warning restore RS0030
    }

    /// <summary>
    /// Watermark mode tries ordinary memory first without blocking; then the charge takes what it can from the
    /// reservation (<paramref name="drawn"/>). True when nothing is left to charge as ordinary memory.
    /// </summary>
    private bool Covers(MemoryBudget target, long bytes, AllocationMode mode, AllocationPriority priority, out long drawn)
    {
        drawn = 0;
        if (Mode == ReservationMode.Watermark && target.TryChargeNow(bytes, mode, priority))
        {
            return true;
        }

        drawn = _balance.Take(bytes);
        if (drawn > 0 && !MemoryBudget.ChargeBelow(target, this, drawn))
        {
            Return(drawn); // a descendant's own capacity refused: the whole charge is ordinary
            drawn = 0;
        }

        return drawn == bytes;
    }

    /// <summary>The excess decided: a refusal gives back what was drawn, and so does a wait that ends without a grant.</summary>
    private ChargeOutcome AfterExcess(ChargeOutcome excess, MemoryBudget target, long drawn)
    {
        if (excess.RefusedBy is not null)
        {
            Unwind(target, drawn);
            return excess;
        }

        return excess.Wait is { } wait ? new ChargeOutcome(null, UnwindIfFailedAsync(wait, target, drawn)) : default;
    }

    private async ValueTask<ChargeOutcome> AfterExcessAsync(ValueTask<ChargeOutcome> excess, MemoryBudget target, long drawn)
    {
        ChargeOutcome decided;
        try
        {
            decided = await excess.ConfigureAwait(false);
        }
        catch
        {
            Unwind(target, drawn);
            throw;
        }

        return AfterExcess(decided, target, drawn);
    }

    /// <summary>
    /// Gives back claimed bytes. If the reservation was disposed meanwhile they go to the budget instead, and count as
    /// given back undrawn, so <see cref="Drawn"/> does not keep them.
    /// </summary>
    private void Return(long bytes)
    {
        if (!_balance.TryReturn(bytes, recordIfDisposed: true))
        {
            Budget.ReleaseReserved(bytes);
        }
    }

    private void Unwind(MemoryBudget target, long drawn)
    {
        if (drawn > 0)
        {
            target.Counter.Undo(drawn, Budget.Counter, locked: false);
            Return(drawn);
        }
    }

    private async Task UnwindIfFailedAsync(Task excess, MemoryBudget target, long drawn)
    {
        try
        {
            await excess.ConfigureAwait(false);
        }
        catch
        {
            Unwind(target, drawn);
            throw;
        }
    }
}
