using System.Buffers;

namespace Headroom.Lab.Scenarios.Transactions.Policies;

/// <summary>
/// XFS's kmem_alloc loop: an attempt that may fail, and on failure a fixed 20 ms sleep and again, forever, with a
/// "possible memory allocation deadlock" warning every 100 retries (counted as a canary warning). No wait queue: the
/// sleeper does not know when memory came back, and others may take it first.
/// </summary>
internal sealed class NoFailLoopPolicy(Filesystem fs) : TransactionPolicy(fs)
{
    public const string Name = "nofail-loop";

    /// <summary>XFS warns once per this many retries of one allocation.</summary>
    private const int RetriesPerWarning = 100;

    protected override async ValueTask<IMemoryOwner<byte>?> RentAsync(Transaction transaction, CancellationToken cancellationToken)
    {
        for (int retries = 0; ; retries++)
        {
            if (Budget.TryRent(TransactionSizing.PageBytes, out IMemoryOwner<byte>? buffer, AllocationMode.MayFail, site: Site))
            {
                if (retries > 0)
                {
                    Tally.Looped();
                }

                Tally.Rented();
                return buffer;
            }

            bool warn = (retries + 1) % RetriesPerWarning == 0;
            Tally.LoopRetry(warn);
            if (warn)
            {
                Fs.Run.CanaryWarning();
            }

            await Task.Delay(RetryDelay, cancellationToken).ConfigureAwait(false);
        }
    }
}
