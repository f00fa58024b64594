using System.Buffers;
using Headroom.Lab.Scenarios.Transactions.Policies;

namespace Headroom.Lab.Scenarios.Transactions;

/// <summary>
/// How a transaction gets its memory: the real code path each policy names. The shared part is the transaction itself:
/// draw the buffers one at a time inside the filesystem's NoReclaim scope (a transaction in progress holds the
/// filesystem, so its allocations are GFP_NOFS: they may drop clean pages but not write dirty ones back), then commit.
/// </summary>
internal abstract class TransactionPolicy(Filesystem fs) : IDisposable
{
    /// <summary>The site every transaction charge names (XFS's error configuration is per site).</summary>
    protected const string Site = "journal";

    /// <summary>XFS's sleep between attempts (congestion_wait(HZ/50)); also the BCL policies' back-off.</summary>
    protected static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(20);

    public static IReadOnlyList<string> Names { get; } =
    [
        NoFailLoopPolicy.Name,
        NoFailPolicy.Name,
        PreallocatePolicy.Name,
        MempoolPolicy.Name,
        ReservationPolicy.WatermarkName,
        ReservationPolicy.TokensName,
        MayFailRollbackPolicy.Name,
        MemoryFailPointPolicy.Name,
        RateLimiterPolicy.Name,
    ];

    protected Filesystem Fs { get; } = fs;

    protected MemoryBudget Budget => Fs.Budget;

    protected TransactionTally Tally => Fs.Tally;

    public static TransactionPolicy Create(string name, Filesystem fs) => name switch
    {
        NoFailLoopPolicy.Name => new NoFailLoopPolicy(fs),
        NoFailPolicy.Name => new NoFailPolicy(fs),
        PreallocatePolicy.Name => new PreallocatePolicy(fs),
        MempoolPolicy.Name => new MempoolPolicy(fs),
        ReservationPolicy.WatermarkName => new ReservationPolicy(fs, ReservationMode.Watermark),
        ReservationPolicy.TokensName => new ReservationPolicy(fs, ReservationMode.Tokens),
        MayFailRollbackPolicy.Name => new MayFailRollbackPolicy(fs),
        MemoryFailPointPolicy.Name => new MemoryFailPointPolicy(fs),
        RateLimiterPolicy.Name => new RateLimiterPolicy(fs),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, $"The transactions scenario has no policy '{name}'; it has {string.Join(", ", Names)}."),
    };

    /// <summary>
    /// One attempt at <paramref name="transaction"/>: admission (if the policy has one), the buffers, the commit.
    /// False when an allocation failed midway and the transaction was rolled back: the caller runs it again.
    /// On cancellation it throws with the buffers still in <paramref name="transaction"/> for the caller to roll back,
    /// and with everything else (reservation, lease, fail point) already released.
    /// </summary>
    public virtual async ValueTask<bool> TryRunAsync(Transaction transaction, CancellationToken cancellationToken)
    {
        if (!await DrawAllAsync(transaction, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        Commit(transaction);
        return true;
    }

    /// <summary>What the policy itself holds, for a stall report ("" when nothing).</summary>
    public virtual string State => string.Empty;

    public virtual void Dispose()
    {
    }

    /// <summary>One buffer for the transaction, or null when the policy's allocation failed.</summary>
    protected abstract ValueTask<IMemoryOwner<byte>?> RentAsync(Transaction transaction, CancellationToken cancellationToken);

    /// <summary>Draws the buffers the transaction still needs; false when one failed and the transaction was rolled back.</summary>
    protected async ValueTask<bool> DrawAllAsync(Transaction transaction, CancellationToken cancellationToken)
    {
        using (AllocationScope.NoReclaim(PageCache.FsDomain))
        {
            while (transaction.NeedsBuffer)
            {
                IMemoryOwner<byte>? buffer = await RentAsync(transaction, cancellationToken).ConfigureAwait(false);
                if (buffer is null)
                {
                    Tally.RolledBack(transaction.RollBack());
                    Fs.Run.MidTransactionFailure();
                    Fs.Run.Rollback();
                    return false;
                }

                transaction.Hold(buffer);
            }
        }

        return true;
    }

    /// <summary>One rent in <paramref name="mode"/> that may be refused (null), never a wait.</summary>
    protected ValueTask<IMemoryOwner<byte>?> TryRent(AllocationMode mode)
    {
        if (!Budget.TryRent(TransactionSizing.PageBytes, out IMemoryOwner<byte>? buffer, mode, site: Site))
        {
            return ValueTask.FromResult<IMemoryOwner<byte>?>(null);
        }

        Tally.Rented();
        return ValueTask.FromResult<IMemoryOwner<byte>?>(buffer);
    }

    protected void Commit(Transaction transaction)
    {
        transaction.Commit(Fs.Cache);
        Tally.Committed(transaction.Shape.Buffers);
    }
}
