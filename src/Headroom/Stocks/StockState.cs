namespace Headroom.Stocks;

/// <summary>Where a stock stands with its registry.</summary>
internal enum StockState
{
    /// <summary>Never bound, or its owner unbound it to bind elsewhere: holds nothing, not registered.</summary>
    Unbound,

    /// <summary>Registered with its budget's tree: it may hold bytes and serve charges.</summary>
    Active,

    /// <summary>A drainer took its bytes back and unregistered it; the owner registers it again on its next refill.</summary>
    Drained,
}
