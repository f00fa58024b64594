using System.Diagnostics;

namespace Headroom;

/// <summary>
/// The one lock order of a budget tree. A thread holding a lock takes only locks of a later level:
/// <list type="number">
/// <item><see cref="LockLevel.Killer"/>: the OOM killer's lock (<see cref="OomKiller.Sync"/>). Its last try may charge
/// and undo, and an undo wakes waiters under the tree's lock.</item>
/// <item><see cref="LockLevel.Tree"/>: the tree's lock (<see cref="BudgetTree.Sync"/>) over every queue, waiter and child
/// list. Nothing under it takes the killer's lock: a root's dispose stops the killer after leaving it.</item>
/// <item><see cref="LockLevel.Leaf"/>: every other lock of the library (a shrinker's back-off, a consumer's lists, the
/// live reservations, the background worker's start). A leaf takes no lock and runs no user code.</item>
/// </list>
/// Re-entering a lock already held is allowed. User code (reclaimers, handlers, loggers, cancellation callbacks) runs
/// under none of them, except the OOM selector, which runs under the killer's lock and so may take the others. Locks of
/// the library's own reclaimers (the MemoryCache reclaimer of Headroom.Extensions.Hosting) are user code's: they come before all three.
/// </summary>
internal static class LockOrder
{
    /// <summary>The locks this thread entered, with their levels; entries it has since left are pruned on the next check.</summary>
    [ThreadStatic]
    private static List<(LockLevel Level, object Sync)>? t_held;

    /// <summary>
    /// Debug builds: asserts, at the top of a locked region, that this thread holds <paramref name="sync"/> and no lock
    /// of a level after <paramref name="level"/> (other than <paramref name="sync"/> itself), then records it as held
    /// unless it is recorded already.
    /// </summary>
    [Conditional("DEBUG")]
    internal static void Entered(LockLevel level, object sync)
    {
        Debug.Assert(IsHeld(sync), "Entered is called inside the lock it names");
        if (ControlledScheduling)
        {
            return;
        }

        List<(LockLevel Level, object Sync)> held = t_held ??= [];
        held.RemoveAll(static h => !IsHeld(h.Sync));
        bool recorded = false;
        foreach ((LockLevel heldLevel, object heldSync) in held)
        {
            bool same = ReferenceEquals(heldSync, sync);
            recorded |= same;
            Debug.Assert(
                same || heldLevel < level,
                $"Lock order broken: a {level} lock was taken while this thread holds a {heldLevel} lock (order: Killer, then Tree, then Leaf).");
        }

        // Once per lock: the pruning cannot tell a left region's entry from this one's (the lock is held again), so a
        // thread that takes only this lock would add an entry per region and every check would walk them all.
        if (!recorded)
        {
            held.Add((level, sync));
        }
    }

    /// <summary><see cref="Entered(LockLevel, object)"/> for a <see cref="Lock"/>, which is recorded for its identity only, never locked as a Monitor.</summary>
    [Conditional("DEBUG")]
    internal static void Entered(LockLevel level, Lock sync)
    {
#pragma warning disable CS9216 // kept as an object to compare and to ask IsHeldByCurrentThread; nothing locks it as a Monitor
        Entered(level, (object)sync);
#pragma warning restore CS9216
    }

    /// <summary>Debug builds: asserts that the caller holds <paramref name="sync"/>, where a method says "caller holds" it.</summary>
    [Conditional("DEBUG")]
    internal static void Held(object sync) => Debug.Assert(Monitor.IsEntered(sync), "The caller must hold this lock.");

    /// <summary>
    /// Set by the Coyote tests. Under Coyote's rewriting a lock is a controlled resource and <see cref="Monitor.IsEntered"/>
    /// does not tell whether this thread holds a lock that it left or never entered, so the checks that need that answer
    /// (the order, and "not under this lock") are off there; the "caller holds" checks stay.
    /// </summary>
    internal static bool ControlledScheduling { get; set; }

    /// <summary>Debug builds, for tests: how many entries this thread's record holds (left locks stay until the next check prunes them).</summary>
    internal static int Recorded => t_held?.Count ?? 0;

    /// <summary>Debug builds, for assertions: true when this thread does not hold <paramref name="sync"/>.</summary>
    internal static bool NotHeld(object sync) => ControlledScheduling || !Monitor.IsEntered(sync);

    /// <summary>Whether this thread holds <paramref name="sync"/>: a <see cref="Lock"/> (the leaf locks that Coyote need not control) or a Monitor.</summary>
    private static bool IsHeld(object sync) => sync is Lock l ? l.IsHeldByCurrentThread : Monitor.IsEntered(sync);
}

/// <summary>The levels of <see cref="LockOrder"/>, earliest first.</summary>
internal enum LockLevel
{
    /// <summary>The OOM killer's lock: taken first.</summary>
    Killer = 1,

    /// <summary>The tree's lock: after the killer's.</summary>
    Tree = 2,

    /// <summary>Any other lock of the library: last, and takes nothing.</summary>
    Leaf = 3,
}
