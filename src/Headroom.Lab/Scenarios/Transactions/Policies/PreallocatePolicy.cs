using System.Buffers;

namespace Headroom.Lab.Scenarios.Transactions.Policies;

/// <summary>
/// Preallocation: rent the worst case before the transaction starts, where backing out is still safe; draw from it
/// inside; give back what was not used at the end (Chinner: "10-100 pages to a reserve which we will almost never use
/// and then free them again on every single transaction"). The worst case is first tried optimistically with MayFail
/// rents; if one fails, everything is given back and it is redone with NoFail rents by one preallocator at a time, so
/// that two half-preallocated transactions never wait for each other's memory (hold-and-wait).
/// </summary>
internal sealed class PreallocatePolicy(Filesystem fs) : TransactionPolicy(fs)
{
    public const string Name = "preallocate";

    private readonly SemaphoreSlim _oneAtATime = new(1, 1);

    public override async ValueTask<bool> TryRunAsync(Transaction transaction, CancellationToken cancellationToken)
    {
        if (!TryPreallocate(transaction))
        {
            Tally.PreallocationBackoff();
            transaction.ReturnSpare();
            await _oneAtATime.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                while (transaction.Spare < TransactionSizing.WorstCaseBuffers)
                {
                    transaction.AddSpare(await Budget.RentAsync(TransactionSizing.PageBytes, AllocationMode.NoFail, site: Site, cancellationToken: cancellationToken).ConfigureAwait(false));
                }
            }
            finally
            {
                _oneAtATime.Release();
            }
        }

        Tally.Rented(TransactionSizing.WorstCaseBuffers);
        bool committed = await base.TryRunAsync(transaction, cancellationToken).ConfigureAwait(false);
        int unused = transaction.ReturnSpare();
        Fs.Run.ReservedUnused((long)unused * TransactionSizing.PageBytes);
        return committed;
    }

    public override void Dispose()
    {
        _oneAtATime.Dispose();
        base.Dispose();
    }

    /// <summary>Draws from the preallocation: it always holds enough.</summary>
    protected override ValueTask<IMemoryOwner<byte>?> RentAsync(Transaction transaction, CancellationToken cancellationToken) =>
        ValueTask.FromResult<IMemoryOwner<byte>?>(transaction.TakeSpare());

    private bool TryPreallocate(Transaction transaction)
    {
        while (transaction.Spare < TransactionSizing.WorstCaseBuffers)
        {
            if (!Budget.TryRent(TransactionSizing.PageBytes, out IMemoryOwner<byte>? buffer, AllocationMode.MayFail, site: Site))
            {
                return false;
            }

            transaction.AddSpare(buffer);
        }

        return true;
    }
}
