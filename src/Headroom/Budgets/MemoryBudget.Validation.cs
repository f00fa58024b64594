using Headroom.Accounting;
using System.Runtime.CompilerServices;

namespace Headroom;

/// <summary>Bad input (semantics §10): each rule gets a specific exception naming the value, before anything changes.</summary>
public sealed partial class MemoryBudget
{
    /// <summary>A NoFail charge that no level could ever grant would wait forever: refuse it as bad input instead.</summary>
    private void CheckGrantable(long bytes, Floor floor)
    {
        for (MemoryBudget? level = this; level is not null; level = level.Parent)
        {
            long ceiling = level.Capacity - level.Counter.FloorBytes(floor);
            if (bytes > ceiling)
            {
                throw new ArgumentOutOfRangeException(nameof(bytes), bytes,
                    $"A NoFail charge of {bytes} bytes could never be granted: budget '{level.Name}' grants at most {ceiling} bytes at this priority (capacity {level.Capacity} less its reserve of {level.Counter.FloorBytes(floor)}).");
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Validate(long bytes, AllocationMode mode, AllocationPriority priority)
    {
        if ((ulong)(bytes - 1) >= (ulong)Counter.Capacity)
        {
            ThrowBadSize(bytes);
        }

        if ((uint)mode > (uint)AllocationMode.NoFail)
        {
            ThrowUndefined(nameof(mode), mode);
        }

        if ((uint)priority > (uint)AllocationPriority.High)
        {
            ThrowUndefined(nameof(priority), priority);
        }

        if (_disposed)
        {
            ThrowDisposed();
        }
    }

    private void ThrowIfDisposed()
    {
        if (_disposed)
        {
            ThrowDisposed();
        }
    }

    private void ThrowBadSize(long bytes)
    {
        if (bytes <= 0)
        {
            ThrowNotPositive(bytes);
        }

        throw new ArgumentOutOfRangeException(nameof(bytes), bytes,
            $"A charge of {bytes} bytes exceeds the capacity of budget '{Name}' ({Capacity} bytes) and could never be granted.");
    }

    private void ThrowNeverAdmitted(long bytes) =>
        throw new ArgumentOutOfRangeException(nameof(bytes), bytes,
            $"A reservation of {bytes} bytes could never be admitted: budget '{Name}' admits at most {Capacity - MinWatermark} bytes (capacity {Capacity} less its min reserve {MinWatermark}, which reservations never eat).");

    internal static void ThrowNotPositive(long bytes) =>
        throw new ArgumentOutOfRangeException(nameof(bytes), bytes, $"The size must be positive; it was {bytes}.");

    private static void ThrowUndefined<T>(string name, T value)
        where T : struct, Enum =>
        throw new ArgumentOutOfRangeException(name, value, $"{value} is not a defined {typeof(T).Name}.");

    private void ThrowUnchargeTooLarge(long bytes, long used) =>
        throw new ArgumentOutOfRangeException(nameof(bytes), bytes,
            $"Cannot uncharge {bytes} bytes from budget '{Name}': only {used} bytes are charged to it (an uncharge may not exceed Used).");

    private void ThrowDisposed() =>
        throw new ObjectDisposedException(Name, $"Budget '{Name}' was disposed.");

    /// <summary>A try never waits, and a NoFail charge waits until it is granted: the two do not go together.</summary>
    internal static void ThrowIfNoFailTry(AllocationMode mode)
    {
        if (mode == AllocationMode.NoFail)
        {
            throw new ArgumentOutOfRangeException(nameof(mode), mode,
                "TryCharge never waits, and a NoFail charge waits until it is granted; use Charge or ChargeAsync for NoFail.");
        }
    }
}
