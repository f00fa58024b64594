using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;

namespace Headroom;

/// <summary>
/// A pool that keeps a minimum of elements charged and ready so that its users always make progress: Linux's
/// <c>mempool_t</c> (semantics §9). <see cref="Alloc"/> follows <c>mempool_alloc</c>: an attempt without reclaim, then an
/// element from the pool, then one attempt with the caller's full mode, then, if the caller may block, a wait for an
/// element to come back. It fails only for callers that cannot block (<see cref="AllocationMode.NoWait"/>).
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// Each element is charged <c>elementBytes</c> to the budget while it exists (in the pool or out). <see cref="Free"/>
/// refills the pool to <see cref="MinElements"/> before it destroys anything, and hands an element straight to the
/// oldest waiter when there is one. A waiter wakes every 5 seconds to try the budget again, as <c>mempool_alloc</c>'s
/// timed wait does, in case memory came back another way.
/// </remarks>
public sealed class Mempool<T> : IDisposable
    where T : class
{
    /// <summary><c>mempool_alloc</c>'s <c>io_schedule_timeout(5 * HZ)</c>.</summary>
    private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(5);

    private readonly MemoryBudget _budget;
    private readonly long _elementBytes;
    private readonly Func<T> _create;
    private readonly Action<T>? _destroy;
    private readonly Lock _sync = new();
    private readonly Stack<T> _pool = new(); // guarded by _sync
    private readonly HashSet<T> _pooled = new(ReferenceEqualityComparer.Instance); // guarded by _sync: what _pool holds, to refuse a second free
    private readonly LinkedList<TaskCompletionSource<T>> _waiters = new(); // guarded by _sync; oldest first
    private bool _disposed; // guarded by _sync

    /// <summary>Creates the pool and fills it with <paramref name="minElements"/> elements, charging each (waiting as NoFail does).</summary>
    /// <param name="budget">The budget each element is charged to.</param>
    /// <param name="minElements">The elements kept for progress; not negative.</param>
    /// <param name="elementBytes">What one element is charged; positive and not above the budget's capacity.</param>
    /// <param name="create">Makes an element; called after its charge is granted.</param>
    /// <param name="destroy">Called before an element's charge is returned, if given.</param>
    /// <exception cref="ArgumentOutOfRangeException">A count or size breaks its rule.</exception>
    /// <exception cref="ObjectDisposedException">The budget was disposed.</exception>
    public Mempool(MemoryBudget budget, int minElements, long elementBytes, Func<T> create, Action<T>? destroy = null)
    {
        ArgumentNullException.ThrowIfNull(budget);
        ArgumentNullException.ThrowIfNull(create);
        ArgumentOutOfRangeException.ThrowIfNegative(minElements);
        if (elementBytes <= 0 || elementBytes > budget.Capacity)
        {
            // Checked here: the budget's own check would name its parameter, "bytes", not this constructor's.
            throw new ArgumentOutOfRangeException(nameof(elementBytes), elementBytes,
                $"An element's size must be positive and not above the capacity of budget '{budget.Name}' ({budget.Capacity} bytes); it was {elementBytes}.");
        }

        budget.Validate(elementBytes, AllocationMode.NoFail, AllocationPriority.Normal); // the budget's disposal
        if (minElements > budget.Capacity / elementBytes) // minElements × elementBytes > Capacity, without overflowing
        {
            throw new ArgumentOutOfRangeException(nameof(minElements), minElements,
                $"{minElements} elements of {elementBytes} bytes can never fit budget '{budget.Name}' of {budget.Capacity} bytes.");
        }

        _budget = budget;
        _elementBytes = elementBytes;
        _create = create;
        _destroy = destroy;
        MinElements = minElements;
        for (int i = 0; i < minElements; i++)
        {
            budget.Charge(elementBytes, AllocationMode.NoFail);
            T element = Create();
            _pool.Push(element);
            _pooled.Add(element);
        }
    }

    /// <summary>Gets the number of elements the pool keeps for progress.</summary>
    public int MinElements { get; }

    /// <summary>Gets the number of elements in the pool now.</summary>
    public int Pooled
    {
        get
        {
            lock (_sync)
            {
                LockOrder.Entered(LockLevel.Leaf, _sync);
                Debug.Assert(_waiters.Count == 0 || _pool.Count == 0, "nobody waits while the pool has elements");
                return _pool.Count;
            }
        }
    }

    /// <summary>Allocates an element in <c>mempool_alloc</c>'s order, blocking the calling thread when it must wait.</summary>
    /// <param name="mode">The caller's mode: <see cref="AllocationMode.NoWait"/> never waits and may fail; every other mode waits for an element rather than fail.</param>
    /// <param name="priority">How deep into the min reserve the budget attempts may go.</param>
    /// <param name="site">An optional name for the caller.</param>
    /// <param name="cancellationToken">Ends a wait; nothing is left behind.</param>
    /// <returns>The element.</returns>
    /// <exception cref="MemoryAllocationException">A <see cref="AllocationMode.NoWait"/> caller found the pool empty and the budget full.</exception>
    /// <exception cref="OperationCanceledException">Cancelled while waiting.</exception>
    /// <exception cref="ObjectDisposedException">The pool was disposed.</exception>
    public T Alloc(AllocationMode mode = AllocationMode.NoFail, AllocationPriority priority = AllocationPriority.Normal, string? site = null, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            if (TryAllocCore(mode, priority, site, out T? element, out TaskCompletionSource<T>? waiter))
            {
                return element;
            }

            if (waiter is null)
            {
                throw Refusal(mode, site);
            }

            try
            {
                // The synchronous entry point blocks by contract (for synchronous callers only).
#pragma warning disable RS0030 // see the comment above: only the synchronous entry point blocks
                return waiter.Task.WaitAsync(RetryInterval, cancellationToken).GetAwaiter().GetResult();
#pragma warning restore RS0030
            }
            catch (TimeoutException)
            {
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                if (Leave(waiter) is { } handed)
                {
                    Free(handed); // handed over as the wait was cancelled: it goes back
                }

                throw;
            }

            if (Leave(waiter) is { } late)
            {
                return late; // the timed wake-up raced a free
            }
        }
    }

    /// <summary>Allocates an element in <c>mempool_alloc</c>'s order, waiting asynchronously when it must wait.</summary>
    /// <param name="mode">The caller's mode: <see cref="AllocationMode.NoWait"/> never waits and may fail; every other mode waits for an element rather than fail.</param>
    /// <param name="priority">How deep into the min reserve the budget attempts may go.</param>
    /// <param name="site">An optional name for the caller.</param>
    /// <param name="cancellationToken">Ends a wait; nothing is left behind.</param>
    /// <returns>The element; completed synchronously unless it had to wait.</returns>
    /// <exception cref="MemoryAllocationException">A <see cref="AllocationMode.NoWait"/> caller found the pool empty and the budget full.</exception>
    /// <exception cref="OperationCanceledException">Cancelled while waiting.</exception>
    /// <exception cref="ObjectDisposedException">The pool was disposed.</exception>
    public ValueTask<T> AllocAsync(AllocationMode mode = AllocationMode.NoFail, AllocationPriority priority = AllocationPriority.Normal, string? site = null, CancellationToken cancellationToken = default)
    {
        if (TryAllocCore(mode, priority, site, out T? element, out TaskCompletionSource<T>? waiter))
        {
            return new(element);
        }

        return waiter is null ? ValueTask.FromException<T>(Refusal(mode, site)) : new(WaitAsync(waiter, mode, priority, site, cancellationToken));
    }

    /// <summary>Allocates an element without waiting: the budget without reclaim, the pool, then the budget with <paramref name="mode"/>.</summary>
    /// <param name="element">The element when allocated.</param>
    /// <param name="mode">The mode of the last attempt; <see cref="AllocationMode.NoFail"/> is refused, as by <see cref="MemoryBudget.TryCharge"/>.</param>
    /// <returns><see langword="true"/> when allocated.</returns>
    /// <exception cref="ObjectDisposedException">The pool was disposed.</exception>
    public bool TryAlloc([NotNullWhen(true)] out T? element, AllocationMode mode = AllocationMode.NoWait)
    {
        MemoryBudget.ThrowIfNoFailTry(mode);
        return TryAllocCore(mode, AllocationPriority.Normal, null, out element, out _, enqueue: false);
    }

    /// <summary>Returns an element: to the oldest waiter, else to the pool while it is below its minimum, else destroyed and uncharged.</summary>
    /// <param name="element">An element this pool allocated and has not taken back.</param>
    /// <exception cref="InvalidOperationException">The element is in the pool already (freed twice); nothing changed.</exception>
    /// <remarks>
    /// Only a second free while the first one's element is pooled can be told (the pool knows what it holds); an
    /// element freed after it was destroyed, or one another pool made, is taken as this pool's, as
    /// <c>mempool_free</c> takes it: tracking every element out would cost each allocation a locked set update.
    /// </remarks>
    public void Free(T element)
    {
        ArgumentNullException.ThrowIfNull(element);
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Leaf, _sync);
            Debug.Assert(_waiters.Count == 0 || _pool.Count == 0, "nobody waits while the pool has elements");
            if (_pooled.Contains(element))
            {
                ThrowFreedTwice();
            }

            while (_waiters.First is { } oldest)
            {
                _waiters.RemoveFirst();
                if (oldest.Value.TrySetResult(element))
                {
                    return; // continuations run asynchronously: not under this lock
                }
            }

            if (!_disposed && _pool.Count < MinElements)
            {
                _pool.Push(element);
                _pooled.Add(element);
                return;
            }
        }

        Destroy(element);
    }

    /// <summary>Destroys the pooled elements and returns their charges; waiters fail with <see cref="ObjectDisposedException"/>; later frees destroy.</summary>
    public void Dispose()
    {
        T[] pooled;
        TaskCompletionSource<T>[] waiters;
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Leaf, _sync);
            Debug.Assert(_waiters.Count == 0 || _pool.Count == 0, "nobody waits while the pool has elements");
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            pooled = [.. _pool];
            _pool.Clear();
            _pooled.Clear();

            waiters = [.. _waiters];
            _waiters.Clear();
        }

        foreach (TaskCompletionSource<T> waiter in waiters)
        {
            waiter.TrySetException(new ObjectDisposedException(nameof(Mempool<T>), $"The mempool of budget '{_budget.Name}' was disposed while a caller waited for an element."));
        }

        foreach (T element in pooled)
        {
            Destroy(element);
        }
    }

    /// <summary>
    /// Steps 1 to 3 of <c>mempool_alloc</c>; when they fail and the caller may block, queues <paramref name="waiter"/>
    /// under the same lock that saw the pool empty, so that no return is missed.
    /// </summary>
    private bool TryAllocCore(AllocationMode mode, AllocationPriority priority, string? site, [NotNullWhen(true)] out T? element, out TaskCompletionSource<T>? waiter, bool enqueue = true)
    {
        waiter = null;
        if ((uint)mode > (uint)AllocationMode.NoFail)
        {
            // Checked first: step 1 charges without the caller's mode, so an undefined one would otherwise pass unseen.
            throw new ArgumentOutOfRangeException(nameof(mode), mode, $"{mode} is not a defined {nameof(AllocationMode)}.");
        }

        if (Volatile.Read(ref _disposed))
        {
            ThrowDisposed();
        }

        // 1. Without reclaim: a fresh element keeps the pool's reserve for when memory is short.
        if (_budget.TryCharge(_elementBytes, AllocationMode.NoWait, priority))
        {
            element = Create();
            return true;
        }

        // 2. The pool.
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Leaf, _sync);
            Debug.Assert(_waiters.Count == 0 || _pool.Count == 0, "nobody waits while the pool has elements");
            if (_pool.TryPop(out element))
            {
                _pooled.Remove(element);
                return true;
            }
        }

        // 3. Once with the caller's full mode; NoFail as mempool_alloc makes it (__GFP_NORETRY): one reclaim pass, no waiting.
        AllocationMode full = mode == AllocationMode.NoFail ? AllocationMode.MayFail : mode;
        if (full != AllocationMode.NoWait && _budget.TryCharge(_elementBytes, full, priority, site))
        {
            element = Create();
            return true;
        }

        if (mode == AllocationMode.NoWait || !enqueue)
        {
            return false;
        }

        // 4. Wait for an element to come back.
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Leaf, _sync);
            Debug.Assert(_waiters.Count == 0 || _pool.Count == 0, "nobody waits while the pool has elements");
            if (_disposed)
            {
                ThrowDisposed();
            }

            if (_pool.TryPop(out element))
            {
                _pooled.Remove(element);
                return true;
            }

            waiter = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.AddLast(waiter);
            return false;
        }
    }

    private async Task<T> WaitAsync(TaskCompletionSource<T> waiter, AllocationMode mode, AllocationPriority priority, string? site, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                return await waiter.Task.WaitAsync(RetryInterval, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                if (Leave(waiter) is { } handed)
                {
                    Free(handed);
                }

                throw;
            }

            // The timed wake-up: leave the queue and start again from step 1.
            if (Leave(waiter) is { } late)
            {
                return late;
            }

            if (TryAllocCore(mode, priority, site, out T? element, out TaskCompletionSource<T>? again))
            {
                return element;
            }

            waiter = again!;
        }
    }

    /// <summary>Takes a waiter out of the queue; returns the element it was handed if a free beat the leaving.</summary>
    private T? Leave(TaskCompletionSource<T> waiter)
    {
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Leaf, _sync);
            Debug.Assert(_waiters.Count == 0 || _pool.Count == 0, "nobody waits while the pool has elements");
            _waiters.Remove(waiter);
        }

#pragma warning disable RS0030 // read only once completed: nothing blocks
        return waiter.TrySetCanceled() ? null : waiter.Task.IsCompletedSuccessfully ? waiter.Task.Result : null;
#pragma warning restore RS0030
    }

    private T Create()
    {
        try
        {
            return _create();
        }
        catch
        {
            _budget.Uncharge(_elementBytes);
            throw;
        }
    }

    private void ThrowDisposed() =>
        throw new ObjectDisposedException($"{nameof(Mempool<T>)} on '{_budget.Name}'", $"The mempool of budget '{_budget.Name}' was disposed.");

    private void ThrowFreedTwice() =>
        throw new InvalidOperationException($"An element was freed twice to the mempool of budget '{_budget.Name}': it is in the pool already.");

    private void Destroy(T element)
    {
        try
        {
            _destroy?.Invoke(element);
        }
        finally
        {
            _budget.Uncharge(_elementBytes);
        }
    }

    private MemoryAllocationException Refusal(AllocationMode mode, string? site)
    {
        MemoryBudgetSnapshot snapshot = _budget.GetSnapshot();
        return new MemoryAllocationException(_elementBytes, mode, site, snapshot, snapshot);
    }
}
