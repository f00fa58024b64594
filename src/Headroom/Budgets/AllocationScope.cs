namespace Headroom;

/// <summary>
/// An allocation-context scope on this async flow (semantics §4 and §5): an ambient reservation
/// (<see cref="MemoryReservation.Enter"/>), or a restriction on the reclaim this flow may start
/// (<see cref="NoReclaim"/>, <see cref="NoIo"/>). Scopes flow through <see langword="await"/> and nest; disposing one
/// restores exactly the context that was current when it opened, so they must be disposed innermost first and on the
/// flow that opened them (a <see langword="using"/> does both). Disposing twice is harmless.
/// </summary>
public sealed class AllocationScope : IDisposable
{
    private readonly AllocationContext _installed;
    private readonly AllocationContext? _previous;
    private int _disposed;

    internal AllocationScope(AllocationContext context)
    {
        _installed = context;
        _previous = AllocationContext.Install(context);
    }

    /// <summary>
    /// While open, reclaim started by this flow skips the reclaimers of <paramref name="domain"/>: Linux's GFP_NOFS as
    /// <c>memalloc_nofs_save</c> does it. Open it around code that holds a lock the domain's reclaimers need.
    /// </summary>
    /// <param name="domain">The reclaim domain, as registered with <see cref="MemoryBudget.RegisterReclaimer(IMemoryReclaimer, ReclaimerOptions)"/>.</param>
    /// <returns>The scope.</returns>
    /// <exception cref="ArgumentException"><paramref name="domain"/> is empty.</exception>
    public static AllocationScope NoReclaim(string domain)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(domain);
        return new AllocationScope(AllocationContext.WithNoReclaim(domain));
    }

    /// <summary>While open, reclaim started by this flow skips every reclaimer that does I/O (Linux's <c>memalloc_noio_save</c>).</summary>
    /// <returns>The scope.</returns>
    public static AllocationScope NoIo() => new(AllocationContext.WithNoIo());

    /// <summary>Closes the scope and restores the context that was current when it opened.</summary>
    /// <exception cref="InvalidOperationException">
    /// A scope opened inside this one is still open on this flow: restoring would silently drop it. Nothing changed;
    /// the scope stays open.
    /// </exception>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (!AllocationContext.IsInstalled(_installed))
        {
            Volatile.Write(ref _disposed, 0); // refused: it can still be disposed in order
            throw new InvalidOperationException(
                "An allocation scope was disposed out of order: a scope opened inside it is still open on this flow. Dispose scopes innermost first, on the flow that opened them.");
        }

        AllocationContext.Restore(_previous);
    }
}
