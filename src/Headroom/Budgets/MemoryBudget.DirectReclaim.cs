using Headroom.Accounting;
using Headroom.Waiting;
using Headroom.Reclaim;

namespace Headroom;

/// <summary>Direct reclaim's decisions (semantics §3), one copy for the synchronous and the asynchronous slow path.</summary>
public sealed partial class MemoryBudget
{
    /// <summary>
    /// The charge's tries around direct-reclaim passes: when a pass is worth running, how much it should free, and when
    /// to stop. The two slow paths differ only in how they run a pass (called, or awaited), so they share this.
    /// </summary>
    private struct DirectReclaim
    {
        private readonly MemoryBudget _budget;
        private readonly long _bytes;
        private readonly AllocationMode _mode;
        private readonly Floor _floor;
        private readonly int _maxPassesWithoutProgress;
        private int _passes;
        private int _passesWithoutProgress;
        private bool _done;

        /// <summary>Wakes background reclaim and tries again at the slow-path floor; done unless reclaim may help.</summary>
        internal DirectReclaim(MemoryBudget budget, long bytes, AllocationMode mode, Floor floor, MemoryBudget refusedBy, int maxPassesWithoutProgress)
        {
            _budget = budget;
            _bytes = bytes;
            _mode = mode;
            _floor = floor;
            _maxPassesWithoutProgress = maxPassesWithoutProgress;
            budget.Tree.WakeBackgroundReclaim(refusedBy);
            Refused = budget.Counter.TryCharge(bytes, floor, Ticket.Arrival, locked: false);

            // Nothing to reclaim for a charge that is refused only to keep the line's order.
            _done = Refused is null || Refused.Counter.Fits(bytes, floor);

            // NoWait runs no pass, but parked memory is given back before anyone is refused (semantics §9): a few frees.
            if (!_done && mode == AllocationMode.NoWait)
            {
                if (Refused!.TrimParkedAtRoot() > 0)
                {
                    Refused = budget.Counter.TryCharge(bytes, floor, Ticket.Arrival, locked: false);
                }

                _done = true;
            }
        }

        /// <summary>Gets the level that refused last, or null once the charge was granted.</summary>
        internal MemoryBudget? Refused { get; private set; }

        /// <summary>Whether to run another pass, and what it should free at <see cref="Refused"/>.</summary>
        /// <exception cref="OperationCanceledException">The caller's token ended the passes.</exception>
        internal bool NextPass(IReclaimDriver reclaim, CancellationToken cancellationToken, out long target)
        {
            target = 0;
            if (_done)
            {
                return false;
            }

            if (_passes++ >= MaxDirectReclaimPasses || cancellationToken.IsCancellationRequested)
            {
                cancellationToken.ThrowIfCancellationRequested();
                return false; // bounded: progress that other charges keep taking must not hold this caller forever
            }

            MemoryBudget refused = Refused!;
            long room = refused.Counter.Room(_floor);
            if (_mode != AllocationMode.MayFail && room + reclaim.Reclaimable(refused) < _bytes)
            {
                return false; // even freeing everything reclaimable could not satisfy it
            }

            target = _bytes - Math.Max(room, 0);
            return true;
        }

        /// <summary>Tries the charge again after a pass that freed <paramref name="freed"/> bytes.</summary>
        /// <exception cref="OperationCanceledException">Cancelled during the pass and still not granted.</exception>
        internal void AfterPass(long freed, CancellationToken cancellationToken)
        {
            Refused = _budget.Counter.TryCharge(_bytes, _floor, Ticket.Arrival, locked: false);
            if (Refused is null)
            {
                _done = true;
                return;
            }

            cancellationToken.ThrowIfCancellationRequested(); // cancelled during reclaim: the caller's cancellation, not a refusal
            _passesWithoutProgress = freed > 0 ? 0 : _passesWithoutProgress + 1;
            _done = _mode == AllocationMode.MayFail || _passesWithoutProgress >= _maxPassesWithoutProgress;
        }
    }
}
