#if DEBUG // the lock order's bookkeeping exists in Debug builds only: in Release every LockOrder.Entered call is compiled out

using Headroom.Arena;

namespace Headroom.Tests.Budgets;

/// <summary>
/// The Debug bookkeeping of the lock order (LockOrder): a thread's record names each lock once, so that it stays as
/// small as the set of locks the thread holds, however often it takes the same one.
/// </summary>
public sealed class LockOrderTests
{
    /// <summary>
    /// A thread that only rents and returns takes the arena depot's lock and no other: its record grew by one entry per
    /// region (the entry of the last region could not be told from the current one, as the lock is held again), so
    /// each check walked them all and the lab's page-cache fill slowed quadratically until the watchdog declared a stall.
    /// </summary>
    [Fact]
    public void A_thread_taking_the_depots_lock_again_and_again_records_it_once()
    {
        var depot = new Depot(limit: 1 << 20);
        int recorded = OnFreshThread(() =>
        {
            for (int i = 0; i < 100; i++)
            {
                Assert.Equal(0, depot.Pop(cls: 0));
            }
        });

        Assert.Equal(1, recorded);
        Assert.Equal(0, depot.Bytes);
    }

    /// <summary>
    /// The pruning keeps entries of locks this thread holds, and a lock entered again is held again: its entry from the
    /// last region could not be told from the current one, so each region added one and each check walked them all.
    /// </summary>
    [Fact]
    public void A_monitor_entered_again_and_again_inside_an_earlier_level_is_recorded_once_beside_it()
    {
        var tree = new object();
        var leaf = new object();
        int recorded = OnFreshThread(() =>
        {
            lock (tree)
            {
                LockOrder.Entered(LockLevel.Tree, tree);
                for (int i = 0; i < 100; i++)
                {
                    lock (leaf)
                    {
                        LockOrder.Entered(LockLevel.Leaf, leaf);
                    }
                }
            }
        });

        Assert.Equal(2, recorded);
    }

    [Fact]
    public void A_lock_re_entered_while_held_is_recorded_once()
    {
        var leaf = new Lock();
        int recorded = OnFreshThread(() =>
        {
            lock (leaf)
            {
                LockOrder.Entered(LockLevel.Leaf, leaf);
                lock (leaf)
                {
                    LockOrder.Entered(LockLevel.Leaf, leaf);
                }

                LockOrder.Entered(LockLevel.Leaf, leaf);
            }
        });

        Assert.Equal(1, recorded);
    }

    /// <summary>Runs <paramref name="body"/> on a new thread, whose record starts empty, and returns the record's size at its end.</summary>
    private static int OnFreshThread(Action body)
    {
        int recorded = -1;
        Exception? fault = null;
        var thread = new Thread(() =>
        {
            try
            {
                body();
                recorded = LockOrder.Recorded;
            }
            catch (Exception e)
            {
                fault = e;
            }
        });
        thread.Start();
        thread.Join();
        if (fault is not null)
        {
            throw new InvalidOperationException("The body failed on its thread.", fault);
        }

        return recorded;
    }
}
#endif
