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
        ObjectDisposedException.ThrowIf(_disposed, this);
        return budget.Rent(PoolSize(minBufferSize), wholeClass: true, mode, AllocationPriority.Normal, site: null, CancellationToken.None);
    }

    /// <summary>-1 is the default size, 0 the smallest class; below -1 is bad input, as for the BCL's pool.</summary>
    internal static int PoolSize(int minBufferSize) => minBufferSize switch
    {
        -1 => DefaultBufferSize,
        0 => 1,
        < -1 => throw new ArgumentOutOfRangeException(nameof(minBufferSize), minBufferSize, $"The size must be -1 (the default, {DefaultBufferSize} bytes) or not negative; it was {minBufferSize}."),
        _ => minBufferSize,
    };

    /// <summary>Later rents throw <see cref="ObjectDisposedException"/>; buffers already rented stay valid until disposed.</summary>
    protected override void Dispose(bool disposing) => _disposed = true;
}
