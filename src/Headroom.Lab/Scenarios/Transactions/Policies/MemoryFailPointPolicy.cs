using System.Runtime;

namespace Headroom.Lab.Scenarios.Transactions.Policies;

/// <summary>
/// The BCL's check-then-allocate: a <see cref="MemoryFailPoint"/> for the worst case (in MB, its granularity) before
/// each transaction, then ordinary MayFail rents with rollback. The fail point asks the process and the OS, not the
/// budget, so it neither refuses for the budget's sake nor promises anything to it.
/// </summary>
internal sealed class MemoryFailPointPolicy(Filesystem fs) : MayFailRollbackPolicy(fs)
{
    public new const string Name = "memoryfailpoint";

    private const long Megabyte = 1 << 20;

    private static readonly int WorstCaseMegabytes = (int)((TransactionSizing.WorstCaseBytes + Megabyte - 1) / Megabyte);

    public override async ValueTask<bool> TryRunAsync(Transaction transaction, CancellationToken cancellationToken)
    {
        MemoryFailPoint gate;
        while (true)
        {
            try
            {
                gate = new MemoryFailPoint(WorstCaseMegabytes);
                break;
            }
            catch (InsufficientMemoryException)
            {
                Tally.FailPointRefused();
                await Task.Delay(RetryDelay, cancellationToken).ConfigureAwait(false);
            }
        }

        using (gate)
        {
            return await base.TryRunAsync(transaction, cancellationToken).ConfigureAwait(false);
        }
    }
}
