// PENDING: stands in for Headroom's Mempool<T> (issue 11) with the same public signatures, until that branch merges;
// then this folder is deleted. It keeps mempool_alloc's order (§9) in the simplest correct way, with a lock.
using System.Diagnostics.CodeAnalysis;

namespace Headroom.Lab.Pending;

internal sealed class Mempool<T> : IDisposable where T : class
{
    private readonly MemoryBudget _budget;
    private readonly long _elementBytes;
    private readonly Func<T> _create;
    private readonly Action<T>? _destroy;
    private readonly Stack<T> _pool = new();
    private readonly SemaphoreSlim _returned = new(0);
    private bool _disposed;

    public Mempool(MemoryBudget budget, int minElements, long elementBytes, Func<T> create, Action<T>? destroy = null)
    {
        _budget = budget;
        MinElements = minElements;
        _elementBytes = elementBytes;
        _create = create;
        _destroy = destroy;
        for (int i = 0; i < minElements; i++)
        {
            budget.Charge(elementBytes, AllocationMode.NoFail);
            _pool.Push(create());
        }
    }

    public int MinElements { get; }

    public int Pooled
    {
        get
        {
            lock (_pool)
            {
                return _pool.Count;
            }
        }
    }

    public T Alloc(AllocationMode mode = AllocationMode.NoFail, AllocationPriority priority = AllocationPriority.Normal, string? site = null, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            if (TryFast(priority, site, out T? element))
            {
                return element;
            }

            if (mode != AllocationMode.NoWait && mode != AllocationMode.NoFail && _budget.TryCharge(_elementBytes, mode, priority, site))
            {
                return _create();
            }

            if (mode == AllocationMode.NoWait)
            {
                throw new MemoryAllocationException(_elementBytes, mode, site, _budget.GetSnapshot(), _budget.GetSnapshot());
            }

            _returned.Wait(cancellationToken);
        }
    }

    public async ValueTask<T> AllocAsync(AllocationMode mode = AllocationMode.NoFail, AllocationPriority priority = AllocationPriority.Normal, string? site = null, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            if (TryFast(priority, site, out T? element))
            {
                return element;
            }

            if (mode == AllocationMode.NoWait)
            {
                throw new MemoryAllocationException(_elementBytes, mode, site, _budget.GetSnapshot(), _budget.GetSnapshot());
            }

            await _returned.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public bool TryAlloc([NotNullWhen(true)] out T? element, AllocationMode mode = AllocationMode.NoWait) =>
        TryFast(AllocationPriority.Normal, null, out element);

    public void Free(T element)
    {
        lock (_pool)
        {
            if (!_disposed && _pool.Count < MinElements)
            {
                _pool.Push(element);
                _returned.Release();
                return;
            }
        }

        _destroy?.Invoke(element);
        _budget.Uncharge(_elementBytes);
        _returned.Release();
    }

    public void Dispose()
    {
        lock (_pool)
        {
            _disposed = true;
            while (_pool.TryPop(out T? element))
            {
                _destroy?.Invoke(element);
                _budget.Uncharge(_elementBytes);
            }
        }
    }

    private bool TryFast(AllocationPriority priority, string? site, [NotNullWhen(true)] out T? element)
    {
        if (_budget.TryCharge(_elementBytes, AllocationMode.NoWait, priority, site))
        {
            element = _create();
            return true;
        }

        lock (_pool)
        {
            return _pool.TryPop(out element);
        }
    }
}
