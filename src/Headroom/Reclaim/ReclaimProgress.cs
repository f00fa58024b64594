namespace Headroom;

/// <summary>
/// Bytes actually uncharged by the flow of one reclaimer call, net of what it charged meanwhile: the only measure of
/// progress (semantics §6).
/// </summary>
internal sealed class ReclaimProgress
{
    private long _uncharged;
    private volatile bool _closed;

    internal long Uncharged => Interlocked.Read(ref _uncharged);

    /// <summary>
    /// Gets whether the reclaimer call is still running. Tasks it started inherit its flow context; once the call has
    /// returned they are ordinary work again, not reclaim context.
    /// </summary>
    internal bool IsOpen => !_closed;

    internal void Add(long bytes)
    {
        if (!_closed)
        {
            Interlocked.Add(ref _uncharged, bytes);
        }
    }

    internal void Close() => _closed = true;
}
