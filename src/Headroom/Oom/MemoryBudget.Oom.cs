namespace Headroom;

/// <summary>Consumers and the OOM killer (semantics §7).</summary>
public sealed partial class MemoryBudget
{
    /// <summary>
    /// Raised when the OOM killer of this budget's tree kills a victim (or panics), with its report. Raised on the thread
    /// that found no progress, outside every lock.
    /// </summary>
    public event EventHandler<OomReport>? OutOfMemory
    {
        add => Tree.Oom.Reported += value;
        remove => Tree.Oom.Reported -= value;
    }

    /// <summary>
    /// Gets the consumer of this budget's subtree that the OOM killer has killed and that is still unwinding: it has
    /// neither released its memory nor been given up on after <see cref="OomOptions.KillTimeout"/>. While one is, the
    /// killer chooses no second victim in the subtree (semantics §7.1), so a health check reports the subtree unhealthy.
    /// </summary>
    /// <value>The oldest such victim; <see langword="null"/> when no kill is pending here.</value>
    public MemoryConsumer? UnwindingVictim => Tree.Oom.VictimWithin(this);

    /// <summary>Registers a unit of work that the OOM killer may cancel; it is a candidate when this budget's subtree is out of memory.</summary>
    /// <param name="name">The consumer's name, for reports.</param>
    /// <param name="cancellation">Cancelled to kill it, asynchronously: its callbacks never run on the allocating thread.</param>
    /// <param name="oomScoreAdj">−1000 (never chosen) to 1000, in thousandths of the short budget's capacity added to its badness.</param>
    /// <returns>The consumer; dispose it when the work ends.</returns>
    /// <exception cref="ArgumentException">The name is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="oomScoreAdj"/> is outside [−1000, 1000].</exception>
    /// <exception cref="ObjectDisposedException">The budget was disposed.</exception>
    public MemoryConsumer RegisterConsumer(string name, CancellationTokenSource cancellation, int oomScoreAdj = 0)
    {
        ArgumentNullException.ThrowIfNull(cancellation);
        return RegisterConsumer(name, oomScoreAdj, cancellation, kill: null);
    }

    /// <summary>Registers a unit of work that the OOM killer may kill through a callback.</summary>
    /// <param name="name">The consumer's name, for reports.</param>
    /// <param name="kill">Called once to kill it, outside every lock and on a worker of its own, never on the allocating thread.</param>
    /// <param name="oomScoreAdj">−1000 (never chosen) to 1000, in thousandths of the short budget's capacity added to its badness.</param>
    /// <returns>The consumer; dispose it when the work ends.</returns>
    /// <exception cref="ArgumentException">The name is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="oomScoreAdj"/> is outside [−1000, 1000].</exception>
    /// <exception cref="ObjectDisposedException">The budget was disposed.</exception>
    public MemoryConsumer RegisterConsumer(string name, Action kill, int oomScoreAdj = 0)
    {
        ArgumentNullException.ThrowIfNull(kill);
        return RegisterConsumer(name, oomScoreAdj, cancellation: null, kill);
    }

    /// <summary>Answers "who would the OOM killer choose now in this subtree, and why", without killing anyone.</summary>
    /// <param name="bytes">The size of the request to report; 0 for none.</param>
    /// <returns>The report, with <see cref="OomReport.DryRun"/> set.</returns>
    public OomReport DryRunOom(long bytes = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        return Tree.Oom.DryRun(this, bytes);
    }

    private MemoryConsumer RegisterConsumer(string name, int oomScoreAdj, CancellationTokenSource? cancellation, Action? kill)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (oomScoreAdj is < MemoryConsumer.NeverKill or > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(oomScoreAdj), oomScoreAdj, $"The OOM score adjustment must be between -1000 and 1000; it was {oomScoreAdj}.");
        }

        ThrowIfDisposed();
        MemoryConsumer consumer = Tree.Oom.Consumers.Register(this, name, oomScoreAdj, cancellation, kill);
        ConsumerRegistered(consumer); // pressure's "full" is measured over it
        return consumer;
    }
}
