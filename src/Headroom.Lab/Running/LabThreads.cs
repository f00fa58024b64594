namespace Headroom.Lab.Running;

/// <summary>
/// The lab's own threads: every dedicated thread a scenario starts goes through here, so that the lab can prove it
/// ended all of them (the tests read <see cref="Alive"/>) and a stall report can name them.
/// </summary>
internal static class LabThreads
{
    private static int s_alive;

    /// <summary>Gets how many threads started here have not returned yet.</summary>
    public static int Alive => Volatile.Read(ref s_alive);

    /// <summary>Starts a named background thread running <paramref name="body"/>; join it before the scenario returns.</summary>
    public static Thread Start(string name, Action body)
    {
        var thread = new Thread(() =>
        {
            try
            {
                body();
            }
            finally
            {
                Interlocked.Decrement(ref s_alive);
            }
        })
        {
            Name = name,
            IsBackground = true,
        };
        Interlocked.Increment(ref s_alive);
        thread.Start();
        return thread;
    }

    /// <summary>
    /// Waits for every thread to return, at most <paramref name="timeout"/> in all; returns the names of those still
    /// running (a scenario whose thread ignored its token), so that the run can report them instead of hanging.
    /// </summary>
    public static IReadOnlyList<string> Join(IEnumerable<Thread> threads, TimeSpan timeout)
    {
        var stuck = new List<string>();
        DateTime until = DateTime.UtcNow + timeout;
        foreach (Thread thread in threads)
        {
            TimeSpan left = until - DateTime.UtcNow;
            if (!thread.Join(left > TimeSpan.Zero ? left : TimeSpan.Zero))
            {
                stuck.Add(thread.Name ?? "(unnamed)");
            }
        }

        return stuck;
    }
}
