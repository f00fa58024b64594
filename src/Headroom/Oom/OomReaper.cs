using Headroom.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Headroom;

/// <summary>
/// What a kill does after the killer chose (semantics §7.3, §7.4; Linux's oom_reaper is a kernel thread of its own): the
/// victim's reservations go back at once, since that runs no user code; its cancellation is signalled, and its reapable
/// memory reaped, on workers of their own, never on the allocating thread, which may hold a lock the victim's code needs.
/// Each reapable is called as a registered reclaimer is (<see cref="Shrinker"/>: a reclaim context that counts what it
/// really frees, a timeout, faults logged), and the signal runs apart from the reaping, so that a victim blocked in its
/// own cancellation callback does not hold back the memory the reaper can free without it.
/// </summary>
internal static class OomReaper
{
    /// <summary>Kills <paramref name="victim"/>; <paramref name="reaped"/> runs on the reaper's worker once its memory was reaped.</summary>
    internal static void Kill(MemoryConsumer victim, ILogger logger, Action<MemoryConsumer> reaped)
    {
        try
        {
            victim.ReapReservations();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.KillFailed(logger, e, victim.Name);
        }

        // Detached: the victim's code and the reaper act for the tree, not in the allocator's scopes.
        victim.Killing = Detached.Start(() => Task.WhenAll(new[]
        {
            Task.Run(() => Signal(victim, logger)),
            Task.Run(() => Reap(victim, logger, reaped)),
        }));
    }

    private static void Signal(MemoryConsumer victim, ILogger logger)
    {
        try
        {
            victim.Signal();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.KillFailed(logger, e, victim.Name);
        }
    }

    private static void Reap(MemoryConsumer victim, ILogger logger, Action<MemoryConsumer> reaped)
    {
        foreach (Shrinker reapable in victim.Reapables())
        {
            try
            {
                _ = reapable.Reclaim(long.MaxValue, CancellationToken.None); // isolated: a fault or a timeout is logged there, and ends this call only
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Log.KillFailed(logger, e, victim.Name);
            }
        }

        reaped(victim);
    }
}
