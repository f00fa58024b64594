namespace Headroom.Tests.Reclaim;

/// <summary>An asynchronous cache, charged to its budget, whose reclaim awaits a gate the test opens, then really uncharges.</summary>
internal sealed class GatedReclaimer : IAsyncMemoryReclaimer
{
    private readonly MemoryBudget _budget;
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _held;

    internal GatedReclaimer(MemoryBudget budget, long held)
    {
        _budget = budget;
        budget.Charge(held, AllocationMode.NoWait);
        _held = held;
    }

    internal ManualResetEventSlim Started { get; } = new();

    internal long Held => Interlocked.Read(ref _held);

    internal bool SawCancellation { get; private set; }

    public long GetReclaimableBytes() => Held;

    public async ValueTask<long> ReclaimAsync(long target, CancellationToken cancellationToken)
    {
        Started.Set();
        try
        {
            await _gate.Task.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            SawCancellation = true;
            throw;
        }

        return Free(target);
    }

    internal void Open() => _gate.TrySetResult();

    internal void Drop() => Free(long.MaxValue);

    private long Free(long bytes)
    {
        long freed;
        lock (_gate)
        {
            freed = Math.Min(bytes, _held);
            _held -= freed;
        }

        if (freed > 0)
        {
            _budget.Uncharge(freed);
        }

        return freed;
    }
}
