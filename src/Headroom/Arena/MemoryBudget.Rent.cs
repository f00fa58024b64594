using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using Headroom.Arena;

namespace Headroom;

/// <summary>Buffers of real memory (semantics §9): rented from the tree's native arena and charged as a charge is.</summary>
public sealed partial class MemoryBudget
{
    /// <summary>The tree's arena (the root's), created by the first rent anywhere in the tree.</summary>
    private NativeArena? _arena;

    /// <summary>From <see cref="MemoryBudgetOptions.PoisonFreedBuffers"/>; a root's setting holds for its tree.</summary>
    private bool _poisonFreedBuffers;

    /// <summary>
    /// Gets the bytes of returned buffers that the tree's arena keeps for reuse. They are resident memory, charged to
    /// the root (so they are part of its <see cref="Used"/>), bounded, and given back before any charge in the tree
    /// waits or is refused; 0 at a child.
    /// </summary>
    public long Parked => Parent is null ? _arena?.Parked ?? 0 : 0;

    /// <summary>The tree's arena, created on first use.</summary>
    internal NativeArena Arena => _arena ?? CreateArena();

    /// <summary>
    /// Rents a buffer of exactly <paramref name="size"/> bytes of native memory, charged to this budget as
    /// <see cref="Charge"/> charges (inside a reservation it draws from it as a charge does, §5).
    /// </summary>
    /// <param name="size">The buffer's length; positive and not above <see cref="Capacity"/>.</param>
    /// <param name="mode">What to do without room (semantics §3).</param>
    /// <param name="priority">How deep into the min reserve the slow path may go.</param>
    /// <param name="site">An optional name for the caller, reported in warnings and exceptions.</param>
    /// <param name="cancellationToken">Ends a wait; a cancelled rent leaves nothing behind.</param>
    /// <returns>
    /// The buffer; dispose it to return it (disposing twice is harmless, but not from two threads at the same instant,
    /// as for the BCL's pool owners; its memory after disposal throws
    /// <see cref="ObjectDisposedException"/>). Its contents are not cleared. The charge is the size rounded up to the
    /// buffer's size class (powers of two from 64 B to 1 MiB; whole pages above), the native bytes it really holds.
    /// </returns>
    /// <exception cref="MemoryAllocationException">Not granted; nothing changed.</exception>
    /// <exception cref="OperationCanceledException">Cancelled before it was granted; nothing changed.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The size, mode or priority breaks its rule.</exception>
    /// <exception cref="ObjectDisposedException">The budget was disposed.</exception>
    public IMemoryOwner<byte> Rent(int size, AllocationMode mode = AllocationMode.NoFail, AllocationPriority priority = AllocationPriority.Normal, string? site = null, CancellationToken cancellationToken = default) =>
        Rent(size, wholeClass: false, mode, priority, site, cancellationToken);

    /// <summary>Rents a buffer as <see cref="Rent(int, AllocationMode, AllocationPriority, string?, CancellationToken)"/> does, if the budget can grant it without waiting for anyone.</summary>
    /// <param name="size">The buffer's length; positive and not above <see cref="Capacity"/>.</param>
    /// <param name="owner">The buffer when granted.</param>
    /// <param name="mode">As for <see cref="TryCharge"/>; <see cref="AllocationMode.NoFail"/> is refused.</param>
    /// <param name="priority">How deep into the min reserve the slow path may go.</param>
    /// <param name="site">An optional name for the caller.</param>
    /// <returns><see langword="true"/> when granted; <see langword="false"/> when refused, with no counter changed.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The size, mode or priority breaks its rule.</exception>
    /// <exception cref="ObjectDisposedException">The budget was disposed.</exception>
    public bool TryRent(int size, [NotNullWhen(true)] out IMemoryOwner<byte>? owner, AllocationMode mode = AllocationMode.NoWait, AllocationPriority priority = AllocationPriority.Normal, string? site = null)
    {
        (int cls, long footprint) = Fit(size);
        Validate(footprint, mode, priority);
        ThrowIfNoFailTry(mode);
        NativeArena arena = Arena;
        if (RentParked(arena, cls, footprint, size) is { } parked)
        {
            owner = parked;
            return true;
        }

        MemoryConsumer? consumer = AllocationContext.Current?.Consumer;
        owner = TryCharge(footprint, mode, priority, site)
            ? Issue(arena, cls, footprint, size, consumer)
            : null;
        return owner is not null;
    }

    /// <summary>Rents a buffer as <see cref="Rent(int, AllocationMode, AllocationPriority, string?, CancellationToken)"/> does, waiting asynchronously as <paramref name="mode"/> allows.</summary>
    /// <param name="size">The buffer's length; positive and not above <see cref="Capacity"/>.</param>
    /// <param name="mode">What to do without room (semantics §3).</param>
    /// <param name="priority">How deep into the min reserve the slow path may go.</param>
    /// <param name="site">An optional name for the caller, reported in warnings and exceptions.</param>
    /// <param name="cancellationToken">Ends a wait; a cancelled rent leaves nothing behind.</param>
    /// <returns>The buffer; completed synchronously when there is room.</returns>
    /// <exception cref="MemoryAllocationException">Not granted; nothing changed.</exception>
    /// <exception cref="OperationCanceledException">Cancelled before it was granted; nothing changed.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The size, mode or priority breaks its rule.</exception>
    /// <exception cref="ObjectDisposedException">The budget was disposed, before or during the wait.</exception>
    public ValueTask<IMemoryOwner<byte>> RentAsync(int size, AllocationMode mode = AllocationMode.NoFail, AllocationPriority priority = AllocationPriority.Normal, string? site = null, CancellationToken cancellationToken = default)
    {
        (int cls, long footprint) = Fit(size);
        Validate(footprint, mode, priority);
        NativeArena arena = Arena;
        if (RentParked(arena, cls, footprint, size) is { } parked)
        {
            return new(parked);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<IMemoryOwner<byte>>(cancellationToken);
        }

        MemoryConsumer? consumer = AllocationContext.Current?.Consumer; // read before the wait: the charge is this flow's
        ValueTask charge = ChargeAsync(footprint, mode, priority, site, cancellationToken);
        return charge.IsCompletedSuccessfully ? new(Issue(arena, cls, footprint, size, consumer)) : RentedAsync(charge, arena, cls, footprint, size, consumer);
    }

    /// <summary>Gives back every parked buffer of this budget's tree: freed, and uncharged from the root.</summary>
    /// <returns>The bytes given back.</returns>
    public long TrimParked()
    {
        MemoryBudget root = this;
        while (root.Parent is not null)
        {
            root = root.Parent;
        }

        return root._arena?.Trim(long.MaxValue) ?? 0;
    }

    /// <summary>
    /// The rent of the public entry points and the memory pools; <paramref name="wholeClass"/> hands out the whole
    /// size class (as <see cref="MemoryPool{T}"/> may), else exactly <paramref name="size"/> bytes.
    /// </summary>
    internal IMemoryOwner<byte> Rent(int size, bool wholeClass, AllocationMode mode, AllocationPriority priority, string? site, CancellationToken cancellationToken)
    {
        (int cls, long footprint) = Fit(size);
        Validate(footprint, mode, priority);
        int length = wholeClass && cls != SizeClasses.Direct ? (int)footprint : size;
        NativeArena arena = Arena;
        if (RentParked(arena, cls, footprint, length) is { } parked)
        {
            return parked;
        }

        cancellationToken.ThrowIfCancellationRequested();
        MemoryConsumer? consumer = AllocationContext.Current?.Consumer;
        try
        {
            Charge(footprint, mode, priority, site, cancellationToken); // the charge's own fast path first, in the caller's mode (no extra try to count as a refusal)
        }
        catch (ArgumentOutOfRangeException e) when (e.ParamName == "bytes")
        {
            throw NeverGrantable(size, footprint, e);
        }

        return Issue(arena, cls, footprint, length, consumer);
    }

    /// <summary>A buffer for a charge already made to this budget (or drawn from a reservation for it); <paramref name="home"/> null returns it to the arena.</summary>
    internal ArenaBuffer Issue(IBufferHome? home, NativeArena arena, int cls, long footprint, int length, MemoryConsumer? consumer) =>
        new(home, this, arena.TakeCharged(this, cls, footprint), cls, footprint, length, consumer);

    /// <summary>The size class of a buffer of <paramref name="size"/> bytes and what it charges; throws naming the size and the limit.</summary>
    internal (int Class, long Footprint) Fit(int size)
    {
        if (size <= 0 || size > Capacity)
        {
            ThrowBadRentSize(size);
        }

        int cls = SizeClasses.Of(size);
        if (cls != SizeClasses.Direct && SizeClasses.Footprint(cls) <= Capacity)
        {
            return (cls, SizeClasses.Footprint(cls));
        }

        return (SizeClasses.Direct, SizeClasses.DirectFootprint(size, Capacity)); // larger than every class, or its class would not fit
    }

    /// <summary>
    /// The common rent: at the root, outside any scope, with nobody waiting, a parked buffer is already charged to the
    /// root; taking it from this thread's cache changes no shared counter.
    /// </summary>
    /// <returns>The buffer, or null when the rent must charge.</returns>
    private ArenaBuffer? RentParked(NativeArena arena, int cls, long footprint, int length)
    {
        PerThread? thread = PerThread.Current; // the rent's thread-static read of the cache (the context has its own)
        if (Parent is null && cls != SizeClasses.Direct && AllocationContext.Current is null && Queue.Count == 0 && arena.TakeParked(thread, cls) is not 0 and nint parked)
        {
            return new ArenaBuffer(home: null, this, parked, cls, footprint, length, consumer: null);
        }

        return null;
    }

    /// <summary>
    /// At a root, gives back every parked buffer of its arena (they are charged here, so a refusal here may be theirs);
    /// elsewhere nothing, as the root's parked memory does not count against a child.
    /// </summary>
    /// <returns>The bytes given back.</returns>
    internal long TrimParkedAtRoot() => Parent is null ? Volatile.Read(ref _arena)?.Trim(long.MaxValue) ?? 0 : 0;

    private ArenaBuffer Issue(NativeArena arena, int cls, long footprint, int length, MemoryConsumer? consumer) =>
        Issue(home: null, arena, cls, footprint, length, consumer);

    private async ValueTask<IMemoryOwner<byte>> RentedAsync(ValueTask charge, NativeArena arena, int cls, long footprint, int length, MemoryConsumer? consumer)
    {
        try
        {
            await charge.ConfigureAwait(false);
        }
        catch (ArgumentOutOfRangeException e) when (e.ParamName == "bytes")
        {
            throw NeverGrantable(length, footprint, e);
        }

        return Issue(arena, cls, footprint, length, consumer);
    }

    /// <summary>
    /// The charge refused its size as one no level could ever grant (a NoFail charge above a ceiling): the rent names
    /// its own parameter and the size the caller asked for. Caught only on that refusal, so the rent's path costs nothing.
    /// </summary>
    private static ArgumentOutOfRangeException NeverGrantable(int size, long footprint, ArgumentOutOfRangeException charge)
    {
        string reason = charge.Message;
        int parameter = reason.IndexOf(" (Parameter '", StringComparison.Ordinal);
        return new ArgumentOutOfRangeException(nameof(size), size,
            $"A buffer of {size} bytes (a charge of {footprint}) cannot be rented: {(parameter < 0 ? reason : reason[..parameter])}");
    }

    private NativeArena CreateArena()
    {
        NativeArena arena;
        if (Parent is not null)
        {
            MemoryBudget root = Parent;
            while (root.Parent is not null)
            {
                root = root.Parent;
            }

            arena = root.Arena;
        }
        else
        {
            lock (Tree.Sync)
            {
                if (_arena is { } existing)
                {
                    return existing;
                }

                ThrowIfDisposed();
                arena = new NativeArena(this, _poisonFreedBuffers);
                arena.Register();
                Volatile.Write(ref _arena, arena); // inside the lock: one arena per root
                return arena;
            }
        }

        Volatile.Write(ref _arena, arena);
        return arena;
    }

    /// <summary>Called once when a root is disposed: its arena gives back its parked memory; buffers still out free theirs when returned.</summary>
    private void CloseArena() => Volatile.Read(ref _arena)?.Close();

    private void ThrowBadRentSize(int size) =>
        throw new ArgumentOutOfRangeException(nameof(size), size,
            $"A buffer of {size} bytes cannot be rented from budget '{Name}': the size must be positive and at most the budget's capacity, {Capacity} bytes.");
}
