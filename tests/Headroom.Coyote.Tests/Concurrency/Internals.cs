using System.Collections;
using System.Reflection;

namespace Headroom.Coyote.Tests.Concurrency;

/// <summary>
/// Reads the few internals the concurrency tests observe: how many wait in a budget's queue, the head waiter's
/// completion, the tree's lock and its list of waiters by age. Headroom.dll grants InternalsVisibleTo to Headroom.Tests
/// but not to this project, so they are read by reflection; a renamed member fails every test here with its name.
/// </summary>
internal static class Internals
{
    private const BindingFlags Instance = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;

    private static readonly PropertyInfo QueueOfBudget = Member(typeof(MemoryBudget), "Queue");
    private static readonly PropertyInfo TreeOfBudget = Member(typeof(MemoryBudget), "Tree");
    private static readonly PropertyInfo CountOfQueue = Member(QueueOfBudget.PropertyType, "Count");
    private static readonly PropertyInfo HeadOfQueue = Member(QueueOfBudget.PropertyType, "Head");
    private static readonly PropertyInfo CompletionOfWaiter = Member(HeadOfQueue.PropertyType, "Completion");
    private static readonly PropertyInfo SyncOfTree = Member(TreeOfBudget.PropertyType, "Sync");
    private static readonly PropertyInfo ByAgeOfTree = Member(TreeOfBudget.PropertyType, "ByAge");

    /// <summary>How many waiters this level refused and queued (<c>budget.QueueCount()</c>).</summary>
    internal static int QueueCount(this MemoryBudget budget) => (int)CountOfQueue.GetValue(QueueOfBudget.GetValue(budget))!;

    /// <summary>The task that completes when the head of this level's queue is granted or leaves (<c>budget.Queue.Head.Completion.Task</c>).</summary>
    internal static Task HeadCompletion(this MemoryBudget budget)
    {
        object head = HeadOfQueue.GetValue(QueueOfBudget.GetValue(budget)) ?? throw new InvalidOperationException($"Nobody waits at '{budget.Name}'.");
        return ((TaskCompletionSource)CompletionOfWaiter.GetValue(head)!).Task;
    }

    /// <summary>The lock over every queue of the tree (<c>budget.Tree.Sync</c>): holding it freezes the queues.</summary>
    internal static object TreeLock(this MemoryBudget budget) => SyncOfTree.GetValue(TreeOfBudget.GetValue(budget))!;

    /// <summary>How many waiters the whole tree lists by age (<c>budget.Tree.ByAge.Count</c>).</summary>
    internal static int WaitersByAge(this MemoryBudget budget) => ((ICollection)ByAgeOfTree.GetValue(TreeOfBudget.GetValue(budget))!).Count;

    private static PropertyInfo Member(Type type, string name) =>
        type.GetProperty(name, Instance) ?? throw new MissingMemberException(type.FullName, name);
}
