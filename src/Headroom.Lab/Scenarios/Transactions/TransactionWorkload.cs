namespace Headroom.Lab.Scenarios.Transactions;

/// <summary>
/// One transaction's needs, drawn before any policy sees it: <see cref="Buffers"/> buffers, of which the first
/// <see cref="DirtyPages"/> are written into the page cache at commit, at pages chosen by <see cref="PageSeed"/>.
/// A retry after a rollback replays the same shape.
/// </summary>
internal readonly record struct TransactionShape(int Buffers, int DirtyPages, int PageSeed)
{
    /// <summary>The file page the <paramref name="k"/>-th dirty buffer is written to.</summary>
    public int Page(int k) => (int)((uint)HashCode.Combine(PageSeed, k) % TransactionSizing.FilePages);
}

/// <summary>
/// A worker's stream of transactions. It draws from its own random stream and nothing else does, so the same seed
/// gives every policy the same transactions in the same order.
/// </summary>
internal sealed class TransactionWorkload(Random random)
{
    public TransactionShape Next()
    {
        // Exponential tail above one buffer, cut at the worst case: the worst case is known but almost never needed.
        double extra = -Math.Log(1 - random.NextDouble()) * TransactionSizing.MeanExtraBuffers;
        int buffers = (int)Math.Min(TransactionSizing.WorstCaseBuffers, 1 + Math.Floor(extra));
        int dirty = 1 + random.Next(Math.Min(TransactionSizing.MaxDirtyPages, buffers));
        return new TransactionShape(buffers, dirty, random.Next());
    }
}
