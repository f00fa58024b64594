using Headroom.Arena;
using Headroom.Stocks;

namespace Headroom;

/// <summary>
/// What one thread keeps for the charge and rent paths (Linux's per-CPU area): the thread's stock and its arena
/// caches, behind one thread-static. The flow's <see cref="AllocationContext"/> keeps a thread-static of its own: its
/// mirror is written from an AsyncLocal callback, which must neither allocate nor call.
/// </summary>
/// <remarks>
/// Every thread-static of this assembly costs its own lookup of the type's thread-static block (on Linux a call to
/// <c>__tls_get_addr</c> each), and a rent used to make two of them (besides the context's) and its return two more.
/// With one object a path makes one lookup and reads the rest as plain fields. Only the owning thread reads or writes these fields; what
/// other threads see of a stock or a cache goes through those objects' own protocols, not through this one.
/// </remarks>
internal sealed class PerThread
{
    /// <summary>The flow's <see cref="AllocationContext"/> on this thread, written only by its AsyncLocal callback (one store).</summary>
    [ThreadStatic]
    internal static AllocationContext? t_context;

    [ThreadStatic]
    private static PerThread? t_current;

    /// <summary>Gets this thread's object, or null before the thread first needed one: one thread-static read.</summary>
    internal static PerThread? Current => t_current;

    /// <summary>Gets this thread's object, created on first use.</summary>
    internal static PerThread Ensure() => t_current ?? Create();

    /// <summary>Gets or sets the thread's stock, created on its first refill.</summary>
    internal Stock? Stock { get; set; }

    /// <summary>Gets or sets the thread's cache of the arena it used last.</summary>
    internal ThreadCache? Cache { get; set; }

    /// <summary>Gets or sets the thread's caches of other arenas, kept for when it comes back to them.</summary>
    internal List<ThreadCache>? OtherCaches { get; set; }

    private static PerThread Create() => t_current = new PerThread();
}
