using System.Buffers;
using System.Diagnostics;

namespace Headroom.Lab.Scenarios.Transactions.Policies;

/// <summary>
/// __GFP_NOFAIL done in the allocator: NoFail rents that reclaim, then wait in the budget's FIFO queue, woken by the
/// uncharge that makes room (no polling, no fixed sleep); the budget's own canary warns about long waits.
/// </summary>
internal sealed class NoFailPolicy(Filesystem fs) : TransactionPolicy(fs)
{
    public const string Name = "nofail";

    protected override async ValueTask<IMemoryOwner<byte>?> RentAsync(Transaction transaction, CancellationToken cancellationToken)
    {
        ValueTask<IMemoryOwner<byte>> pending = Budget.RentAsync(TransactionSizing.PageBytes, AllocationMode.NoFail, site: Site, cancellationToken: cancellationToken);
        Tally.Rented();
        if (pending.IsCompleted)
        {
            return await pending.ConfigureAwait(false);
        }

        Tally.NoFailWait();
        long waited = Stopwatch.GetTimestamp();
        try
        {
            return await pending.ConfigureAwait(false);
        }
        finally
        {
            Tally.WaitEnded(waited);
        }
    }
}
