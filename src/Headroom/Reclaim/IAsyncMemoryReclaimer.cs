namespace Headroom;

/// <summary>
/// A shrinker whose reclaim is asynchronous (semantics §6): it gives memory back by awaiting (I/O, a lock, a flush)
/// rather than by blocking a thread. Register it with <see cref="MemoryBudget.RegisterReclaimer(IAsyncMemoryReclaimer, ReclaimerOptions)"/>.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="MemoryBudget.ChargeAsync"/>, <see cref="MemoryBudget.ReserveAsync"/>, a reservation's growth and
/// background reclaim await it, passing the caller's cancellation token; no thread waits for it meanwhile.
/// </para>
/// <para>
/// A synchronous charge (<see cref="MemoryBudget.Charge"/>, <see cref="MemoryBudget.TryCharge"/>) that needs it starts
/// the call on the thread pool and its own thread waits for it, at most for the reclaimer's
/// <see cref="ReclaimerOptions.Timeout"/>: a synchronous caller has chosen to block, and the call itself never needs
/// that thread.
/// </para>
/// <para>
/// As for <see cref="IMemoryReclaimer"/>: charges made inside <see cref="ReclaimAsync"/> (on its flow) never recurse
/// into reclaim, and progress is what it actually uncharges during the call, never what it reports.
/// </para>
/// </remarks>
public interface IAsyncMemoryReclaimer
{
    /// <summary>Gets how many bytes the reclaimer could free now (Linux's <c>count_objects</c>). Cheap, synchronous; may be approximate.</summary>
    /// <returns>The bytes it could free; 0 when it has nothing to give.</returns>
    long GetReclaimableBytes();

    /// <summary>Frees up to <paramref name="target"/> bytes by uncharging them from the budget (Linux's <c>scan_objects</c>).</summary>
    /// <param name="target">The bytes asked for in this call.</param>
    /// <param name="cancellationToken">Cancelled when the caller gave up, or when the call ran past the reclaimer's timeout and was abandoned.</param>
    /// <returns>The bytes it says it freed; checked against what it really uncharged. 0 when it cannot make progress now.</returns>
    ValueTask<long> ReclaimAsync(long target, CancellationToken cancellationToken);
}
