using System.Buffers;
using Headroom.Lab.Pending;

namespace Headroom.Lab.Scenarios.Transactions.Policies;

/// <summary>
/// A <see cref="Mempool{T}"/> of page buffers with a minimum of one transaction's worst case, charged for the whole
/// run. mempool_alloc's order: an attempt without reclaim, an element of the pool, an attempt with the caller's mode
/// (MayFail: one reclaim pass), then wait for an element to come back. Its promise is per element, for callers that
/// need one at a time; a transaction needs many at once, several transactions share the pool, and the elements outlive
/// the transaction in the page cache (Chinner's objection, measured).
/// </summary>
internal sealed class MempoolPolicy : TransactionPolicy
{
    public const string Name = "mempool";

    private readonly Mempool<NativePage> _pool;

    public MempoolPolicy(Filesystem fs)
        : base(fs)
    {
        _pool = new Mempool<NativePage>(fs.Budget, TransactionSizing.WorstCaseBuffers, TransactionSizing.PageBytes, static () => new NativePage(), static page => page.Dispose());
        fs.Run.Figure(TransactionFigures.MempoolBytes, TransactionSizing.WorstCaseBytes);
    }

    public override void Dispose()
    {
        _pool.Dispose();
        base.Dispose();
    }

    protected override async ValueTask<IMemoryOwner<byte>?> RentAsync(Transaction transaction, CancellationToken cancellationToken)
    {
        ValueTask<NativePage> pending = _pool.AllocAsync(AllocationMode.MayFail, site: Site, cancellationToken: cancellationToken);
        long waited = 0;
        if (!pending.IsCompleted)
        {
            Tally.MempoolWait();
            waited = System.Diagnostics.Stopwatch.GetTimestamp();
        }

        NativePage page = await pending.ConfigureAwait(false);
        if (waited != 0)
        {
            Tally.WaitEnded(waited);
        }

        Tally.Rented();
        return new PooledBuffer(_pool, page);
    }
}
