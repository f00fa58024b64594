namespace Headroom;

/// <summary>
/// Bytes actually uncharged by the flow of one reclaimer call, net of what it charged meanwhile: the only measure of
/// progress (semantics §6).
/// </summary>
internal sealed class ReclaimProgress
{
    private long _uncharged;

    internal long Uncharged => Interlocked.Read(ref _uncharged);

    internal void Add(long bytes) => Interlocked.Add(ref _uncharged, bytes);
}
