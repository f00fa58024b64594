using System.Buffers;

namespace Headroom.Pools;

/// <summary>
/// A <see cref="MemoryPool{T}"/> over a budget's arena (<see cref="MemoryBudget.AsMemoryPool(AllocationMode)"/>).
/// <see cref="MaxBufferSize"/> is <see cref="int.MaxValue"/>, so a <c>Pipe</c> never falls back to
/// <see cref="ArrayPool{T}.Shared"/>; a rent above the budget's capacity throws instead.
/// </summary>
internal sealed class BudgetMemoryPool(MemoryBudget budget, AllocationMode mode) : MemoryPool<byte>
{
    /// <summary>What <c>Rent(-1)</c> hands out, as <see cref="MemoryPool{T}.Shared"/> does.</summary>
    internal const int DefaultBufferSize = 4096;

    private volatile bool _disposed;

    public override int MaxBufferSize => int.MaxValue;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        if (_disposed)
        {
            ThrowDisposed(budget);
        }

        return budget.Rent(PoolSize(minBufferSize, budget), wholeClass: true, mode, AllocationPriority.Normal, site: null, CancellationToken.None);
    }

    /// <summary>
    /// -1 is the default size, 0 the smallest class; below -1 is bad input, as for the BCL's pool, and so is a size above
    /// the budget's capacity (checked here, so that the exception names the pool's parameter, not the budget's rent's).
    /// </summary>
    internal static int PoolSize(int minBufferSize, MemoryBudget budget)
    {
        if (minBufferSize > 0 && minBufferSize <= budget.Capacity)
        {
            return minBufferSize; // the common case first, and small enough to inline: the throws are out of line
        }

        return minBufferSize switch
        {
            -1 => DefaultBufferSize,
            0 => 1,
            _ => ThrowBadSize(minBufferSize, budget),
        };
    }

    private static int ThrowBadSize(int minBufferSize, MemoryBudget budget) =>
        throw (minBufferSize < -1
            ? new ArgumentOutOfRangeException(nameof(minBufferSize), minBufferSize, $"The size must be -1 (the default, {DefaultBufferSize} bytes) or not negative; it was {minBufferSize}.")
            : new ArgumentOutOfRangeException(nameof(minBufferSize), minBufferSize,
                $"A buffer of {minBufferSize} bytes cannot be rented from budget '{budget.Name}': the size must be at most the budget's capacity, {budget.Capacity} bytes."));

    /// <summary>A rent after the pool's disposal names the budget, not only the pool's type.</summary>
    internal static void ThrowDisposed(MemoryBudget budget) =>
        throw new ObjectDisposedException($"{nameof(MemoryPool<byte>)} of '{budget.Name}'", $"A memory pool of budget '{budget.Name}' was disposed.");

    /// <summary>Later rents throw <see cref="ObjectDisposedException"/>; buffers already rented stay valid until disposed.</summary>
    protected override void Dispose(bool disposing) => _disposed = true;
}
