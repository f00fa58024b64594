using System.Diagnostics;
using System.Threading.RateLimiting;

namespace Headroom.Lab.Scenarios.Transactions.Policies;

/// <summary>
/// What a .NET developer reaches for to bound concurrent memory: a <see cref="ConcurrencyLimiter"/> whose permits are
/// bytes (as many as a reservation could admit), each transaction queueing, oldest first, for its worst case; then
/// ordinary MayFail rents with rollback. The limiter counts permits, not memory: the page cache is invisible to it.
/// </summary>
internal sealed class RateLimiterPolicy : MayFailRollbackPolicy
{
    public new const string Name = "ratelimiter";

    private readonly ConcurrencyLimiter _limiter;

    public RateLimiterPolicy(Filesystem fs)
        : base(fs)
    {
        _limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = (int)Math.Min(int.MaxValue, fs.Budget.Capacity - fs.Budget.MinWatermark),
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
    }

    public override async ValueTask<bool> TryRunAsync(Transaction transaction, CancellationToken cancellationToken)
    {
        ValueTask<RateLimitLease> pending = _limiter.AcquireAsync((int)TransactionSizing.WorstCaseBytes, cancellationToken);
        long waited = 0;
        if (!pending.IsCompleted)
        {
            Tally.LimiterWait();
            waited = Stopwatch.GetTimestamp();
        }

        using RateLimitLease lease = await pending.ConfigureAwait(false);
        if (waited != 0)
        {
            Tally.WaitEnded(waited);
        }

        if (!lease.IsAcquired)
        {
            throw new InvalidOperationException($"The limiter refused {TransactionSizing.WorstCaseBytes} permits although its queue is unbounded.");
        }

        bool committed = await base.TryRunAsync(transaction, cancellationToken).ConfigureAwait(false);
        if (committed)
        {
            Tally.UnusedPermits(TransactionSizing.WorstCaseBytes - ((long)transaction.Shape.Buffers * TransactionSizing.PageBytes));
        }

        return committed;
    }

    public override void Dispose()
    {
        _limiter.Dispose();
        base.Dispose();
    }
}
