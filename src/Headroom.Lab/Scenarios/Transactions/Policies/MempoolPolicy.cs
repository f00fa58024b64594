using System.Buffers;
using System.Diagnostics;

namespace Headroom.Lab.Scenarios.Transactions.Policies;

/// <summary>
/// A <see cref="Mempool{T}"/> of page buffers with a minimum of one transaction's worst case, charged for the whole
/// run. mempool_alloc's order: an attempt without reclaim, an element of the pool (the stand-in's TryAlloc), an attempt
/// with the caller's mode (MayFail: one reclaim pass), then wait for an element to come back, waking every so often. Its promise is per element, for callers that
/// need one at a time; a transaction needs many at once, several transactions share the pool, and the elements outlive
/// the transaction in the page cache (Chinner's objection, measured).
/// </summary>
internal sealed class MempoolPolicy : TransactionPolicy
{
    public const string Name = "mempool";

    /// <summary>mempool_alloc's 5 s timed wait, scaled to runs of seconds.</summary>
    private static readonly TimeSpan WakeInterval = TimeSpan.FromMilliseconds(100);

    private readonly Mempool<NativePage> _pool;

    public MempoolPolicy(Filesystem fs)
        : base(fs)
    {
        _pool = new Mempool<NativePage>(fs.Budget, TransactionSizing.WorstCaseBuffers, TransactionSizing.PageBytes, static () => new NativePage(), static page => page.Dispose());
        fs.Run.Figure(TransactionFigures.MempoolBytes, TransactionSizing.WorstCaseBytes);
    }

    public override string State => $"; the pool holds {_pool.Pooled} of its {_pool.MinElements} elements";

    public override void Dispose()
    {
        _pool.Dispose();
        base.Dispose();
    }

    protected override ValueTask<IMemoryOwner<byte>?> RentAsync(Transaction transaction, CancellationToken cancellationToken)
    {
        if (!_pool.TryAlloc(out NativePage? page))
        {
            page = AllocWaiting(cancellationToken);
        }

        Tally.Rented();
        return ValueTask.FromResult<IMemoryOwner<byte>?>(new PooledBuffer(_pool, page));
    }

    /// <summary>
    /// The synchronous Alloc: of the stand-in's two it is the one that makes mempool_alloc's attempt with the caller's
    /// mode (MayFail: one reclaim pass) before it waits, blocking this worker in a wait that takes the token. Its wait
    /// has no timeout, while mempool_alloc wakes every 5 s "as memory pressure might have reduced"
    /// (io_schedule_timeout(5*HZ)); without that, workers parked on an empty pool never retry reclaim, and a pool
    /// refilled by reclaim makes the budget's background reclaim see no progress and rest. So it is woken here, every
    /// <see cref="WakeInterval"/> (the 5 s scaled to the lab's seconds-long runs).
    /// </summary>
    private NativePage AllocWaiting(CancellationToken cancellationToken)
    {
        Tally.MempoolWait();
        long waited = Stopwatch.GetTimestamp();
        try
        {
            while (true)
            {
                using var wake = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                wake.CancelAfter(WakeInterval);
                try
                {
                    return _pool.Alloc(AllocationMode.MayFail, site: Site, cancellationToken: wake.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    Tally.MempoolTimedWake();
                }
            }
        }
        finally
        {
            Tally.WaitEnded(waited);
        }
    }
}
