namespace Headroom.Stocks;

/// <summary>
/// How large a budget's stocks may be (semantics §1): none below 1 MiB, so that a small budget works exactly as
/// without stocks; else a batch of capacity/256, at most 64 KiB (memcg's MEMCG_CHARGE_BATCH is 64 pages), and at most
/// capacity/16/(2·batch) stocks bound at or below a level, so that the bytes stocked there stay within capacity/16.
/// </summary>
internal static class StockBounds
{
    internal const long SmallestStocked = 1L << 20;

    internal const long MaxBatch = 64 * 1024;

    /// <summary>The most one stock of a budget of <paramref name="capacity"/> holds; 0 for no stocks.</summary>
    internal static long Batch(long capacity) => capacity < SmallestStocked ? 0 : Math.Min(MaxBatch, capacity / 256);

    /// <summary>The most stocks bound at or below a level of <paramref name="capacity"/>.</summary>
    internal static int MaxStocks(long capacity)
    {
        long batch = Batch(capacity);
        return batch == 0 ? 0 : (int)Math.Min(int.MaxValue, capacity / 16 / (2 * batch));
    }
}
