namespace Headroom.Coyote.Tests.Concurrency;

/// <summary>
/// A clock that tells when the next charge starts to wait. A charge that must wait takes its ticket (its place in line)
/// and reads the clock for its start time while it holds the tree's lock, and keeps the lock until it is queued. So once
/// <see cref="NextWaiter"/> completes, any later charge is younger: it needs that lock to take its own ticket.
/// </summary>
/// <remarks>
/// Only reads made while holding the tree's lock count: the slow path and background reclaim read the clock outside
/// it too. This lets a test put a blocking <see cref="MemoryBudget.Charge"/> first in line without spinning on the
/// queue's count (a spin costs Coyote thousands of scheduling steps per schedule).
/// </remarks>
internal sealed class WaiterProbe : TimeProvider
{
    private TaskCompletionSource<bool>? _next;

    /// <summary>The tree's lock; set once the budget exists (the budget needs the clock first).</summary>
    internal object? TreeLock { get; set; }

    /// <summary>Completes when the next waiter has taken its ticket.</summary>
    internal Task NextWaiter()
    {
        var next = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _next, next);
        return next.Task;
    }

    public override long GetTimestamp()
    {
        if (TreeLock is { } sync && Monitor.IsEntered(sync))
        {
            Interlocked.Exchange(ref _next, null)?.TrySetResult(true);
        }

        return base.GetTimestamp();
    }
}
