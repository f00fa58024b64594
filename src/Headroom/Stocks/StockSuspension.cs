namespace Headroom.Stocks;

/// <summary>
/// Stocking closed in a tree while a slow path decides (see <see cref="StockDrain"/>); disposing reopens it. The
/// default value holds nothing, so a path that did not need one can dispose it all the same.
/// </summary>
internal readonly struct StockSuspension(StockDrain drain, bool drained) : IDisposable
{
    /// <summary>Gets whether the drain found stocks: a refused charge may fit now, on its fast path.</summary>
    internal bool Drained => drained;

    public void Dispose() => drain?.Reopen();
}
