using System.Buffers;

namespace Headroom.Lab.Scenarios.Transactions.Policies;

/// <summary>
/// "Callers should detect and suitably handle failure" (Morton, Hocko): MayFail rents (one direct-reclaim pass, then
/// failure); a failure midway rolls the whole transaction back, returning every buffer, and it runs again.
/// </summary>
internal class MayFailRollbackPolicy(Filesystem fs) : TransactionPolicy(fs)
{
    public const string Name = "mayfail-rollback";

    /// <summary>An ordinary rent that may fail: what a caller that handles failure asks for.</summary>
    protected override ValueTask<IMemoryOwner<byte>?> RentAsync(Transaction transaction, CancellationToken cancellationToken) => TryRent(AllocationMode.MayFail);
}
