using System.Buffers;
using System.Diagnostics;

namespace Headroom.Arena;

/// <summary>
/// A rented buffer of native memory: the <see cref="IMemoryOwner{T}"/> that <see cref="MemoryBudget.Rent(int, AllocationMode, AllocationPriority, string?, CancellationToken)"/> and the
/// budget's memory pools hand out. Native memory never moves, so <see cref="Pin"/> costs nothing. Disposing gives the
/// buffer back once, whichever thread does it; later disposals do nothing, and the memory can no longer be reached.
/// </summary>
[DebuggerDisplay("{_length} bytes of class {_class}")]
internal sealed unsafe class ArenaBuffer : MemoryManager<byte>, IDisposable
{
    private readonly IBufferHome? _home; // null for the common home, the budget's arena: one reference store fewer (a write barrier) per rent
    private readonly MemoryBudget _budget;
    private readonly MemoryConsumer? _consumer;
    private readonly long _footprint;
    private readonly int _length;
    private readonly int _class;
    private nint _pointer; // 0 once disposed

    /// <summary>A buffer charged to <paramref name="budget"/>; <paramref name="home"/> null sends it back to the budget's arena.</summary>
    internal ArenaBuffer(IBufferHome? home, MemoryBudget budget, nint pointer, int cls, long footprint, int length, MemoryConsumer? consumer)
    {
        Debug.Assert(length <= footprint);
        _home = home;
        _budget = budget;
        _pointer = pointer;
        _class = cls;
        _footprint = footprint;
        _length = length;
        _consumer = consumer;
    }

    /// <summary>Gets the budget the buffer is charged to.</summary>
    internal MemoryBudget Budget => _budget;

    /// <summary>Gets the native address, or 0 once disposed (for tests that compare it with the arena's chunks).</summary>
    internal nint Address => Volatile.Read(ref _pointer);

    /// <inheritdoc />
    public override Span<byte> GetSpan()
    {
        nint pointer = _pointer;
        if (pointer == 0)
        {
            ThrowDisposed();
        }

        return new Span<byte>((void*)pointer, _length);
    }

    /// <inheritdoc />
    public override MemoryHandle Pin(int elementIndex = 0)
    {
        nint pointer = _pointer;
        if (pointer == 0)
        {
            ThrowDisposed();
        }

        if ((uint)elementIndex > (uint)_length)
        {
            throw new ArgumentOutOfRangeException(nameof(elementIndex), elementIndex, $"The index must be between 0 and the buffer's length, {_length}; it was {elementIndex}.");
        }

        return new MemoryHandle((byte*)pointer + elementIndex); // native memory does not move: nothing to pin
    }

    /// <inheritdoc />
    public override void Unpin()
    {
    }

    /// <summary>
    /// Disposes without <see cref="GC.SuppressFinalize"/>, which <see cref="MemoryManager{T}"/>'s own implementation
    /// calls although it has no finalizer: a call on every return that the BCL's pool owners do not pay.
    /// </summary>
    void IDisposable.Dispose() => Dispose(disposing: true);

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        nint pointer = Interlocked.Exchange(ref _pointer, 0); // two racing disposals return it once
        if (pointer != 0)
        {
            if (_home is { } home)
            {
                home.Return(pointer, _class, _footprint, _budget, _consumer);
            }
            else
            {
                _budget.Arena.Return(pointer, _class, _footprint, _budget, _consumer); // a direct call: the arena is sealed
            }
        }
    }

    private void ThrowDisposed() =>
        throw new ObjectDisposedException(nameof(ArenaBuffer), $"A buffer of {_length} bytes rented from budget '{_budget.Name}' was used after it was disposed.");
}
