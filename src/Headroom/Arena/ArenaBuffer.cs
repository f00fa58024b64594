using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Headroom.Arena;

/// <summary>
/// A rented buffer of native memory: the <see cref="IMemoryOwner{T}"/> that <see cref="MemoryBudget.Rent(int, AllocationMode, AllocationPriority, string?, CancellationToken)"/> and the
/// budget's memory pools hand out. Native memory never moves, so <see cref="Pin"/> costs nothing. Disposing gives the
/// buffer back once; later disposals do nothing, and the memory can no longer be reached.
/// </summary>
[DebuggerDisplay("{_length} bytes of class {_class}")]
internal sealed unsafe class ArenaBuffer : MemoryManager<byte>, IDisposable
{
    // Where it goes back, in one field (48 bytes an owner, not 64: a rent allocates one, so its size is the GC's work):
    // null is the budget's arena with no consumer; a MemoryConsumer is the arena, the bytes that consumer's; any other
    // value is an IBufferHome, whose buffers carry no consumer.
    private readonly object? _return;
    private readonly MemoryBudget _budget;
    private readonly int _length;
    private readonly int _class; // a size class, Direct (whole pages of _length) or DirectExact (exactly _length): the footprint follows
    private nint _pointer; // 0 once disposed

    /// <summary>A direct buffer that charges exactly its length (whole pages would not fit its budget).</summary>
    private const int DirectExact = SizeClasses.Direct - 1;

    /// <summary>A buffer charged to <paramref name="budget"/>; <paramref name="home"/> null sends it back to the budget's arena.</summary>
    internal ArenaBuffer(IBufferHome? home, MemoryBudget budget, nint pointer, int cls, long footprint, int length, MemoryConsumer? consumer)
    {
        Debug.Assert(length <= footprint);
        Debug.Assert(home is null || consumer is null, "a home's buffers carry no consumer");
        Debug.Assert(cls != SizeClasses.Direct || footprint == length || footprint == SizeClasses.PageRun(length), "a direct footprint is its length or its whole pages");
        _return = (object?)home ?? consumer;
        _budget = budget;
        _pointer = pointer;
        _class = cls == SizeClasses.Direct && footprint == length && footprint != SizeClasses.PageRun(length) ? DirectExact : cls;
        _length = length;
        Debug.Assert(Footprint == footprint);
    }

    /// <summary>Gets the budget the buffer is charged to.</summary>
    internal MemoryBudget Budget => _budget;

    /// <summary>Gets the native address, or 0 once disposed (for tests that compare it with the arena's chunks).</summary>
    internal nint Address => Volatile.Read(ref _pointer);

    /// <summary>Gets the buffer as memory, without making a span first as the base class does (a pipe reads it once a segment).</summary>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    public override Memory<byte> Memory
    {
        get
        {
            if (_pointer == 0)
            {
                ThrowDisposed();
            }

            return CreateMemory(_length);
        }
    }

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
        // Plain reads and writes, as the BCL's pool owners do: disposing again, on any thread after the first disposal
        // returned, does nothing; two threads disposing one owner at the same instant is a race the caller must not run
        // (a locked exchange here cost every rent a few nanoseconds for that misuse alone).
        nint pointer = _pointer;
        if (pointer != 0)
        {
            _pointer = 0;
            int cls = _class < 0 ? SizeClasses.Direct : _class;
            switch (_return)
            {
                case null:
                    _budget.Arena.Return(pointer, cls, Footprint, _budget, consumer: null); // a direct call: the arena is sealed
                    break;
                case MemoryConsumer consumer:
                    _budget.Arena.Return(pointer, cls, Footprint, _budget, consumer);
                    break;
                default:
                    Unsafe.As<IBufferHome>(_return).Return(pointer, cls, Footprint, _budget, consumer: null);
                    break;
            }
        }
    }

    private long Footprint => _class switch
    {
        >= 0 => SizeClasses.Footprint(_class),
        SizeClasses.Direct => SizeClasses.PageRun(_length),
        _ => _length,
    };

    private void ThrowDisposed() =>
        throw new ObjectDisposedException(nameof(ArenaBuffer), $"A buffer of {_length} bytes rented from budget '{_budget.Name}' was used after it was disposed.");
}
