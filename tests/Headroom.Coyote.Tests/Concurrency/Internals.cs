namespace Headroom.Coyote.Tests.Concurrency;

/// <summary>
/// Shorthands for the few internals the concurrency tests observe (Headroom.dll grants this project InternalsVisibleTo):
/// how many wait in a budget's queue, the head waiter's completion, and the tree's lock.
/// </summary>
internal static class Internals
{
    /// <summary>How many waiters this level refused and queued (<c>budget.Queue.Count</c>).</summary>
    internal static int QueueCount(this MemoryBudget budget) => budget.Queue.Count;

    /// <summary>The task that completes when the head of this level's queue is granted or leaves (<c>budget.Queue.Head.Completion.Task</c>).</summary>
    internal static Task HeadCompletion(this MemoryBudget budget) =>
        (budget.Queue.Head ?? throw new InvalidOperationException($"Nobody waits at '{budget.Name}'.")).Completion.Task;

    /// <summary>The lock over every queue of the tree (<c>budget.Tree.Sync</c>): holding it freezes the queues.</summary>
    internal static object TreeLock(this MemoryBudget budget) => budget.Tree.Sync;
}
