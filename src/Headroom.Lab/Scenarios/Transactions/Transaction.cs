using System.Buffers;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Headroom.Lab.Scenarios.Transactions;

/// <summary>
/// One worker's transaction in progress: the buffers it holds (and, for preallocation, the spare ones it holds for
/// later). Owned by one worker at a time; rollback and commit leave it holding nothing.
/// </summary>
internal sealed class Transaction
{
    private readonly List<IMemoryOwner<byte>?> _held = new(TransactionSizing.WorstCaseBuffers);
    private readonly Stack<IMemoryOwner<byte>> _spare = new(TransactionSizing.WorstCaseBuffers);

    public TransactionShape Shape { get; private set; }

    /// <summary>Buffers the transaction has drawn so far.</summary>
    public int Held => _held.Count;

    /// <summary>Preallocated buffers not drawn yet.</summary>
    public int Spare => _spare.Count;

    /// <summary>Whether it still needs a buffer.</summary>
    public bool NeedsBuffer => _held.Count < Shape.Buffers;

    public void Begin(TransactionShape shape)
    {
        Debug.Assert(_held.Count == 0 && _spare.Count == 0, "a transaction begins holding nothing");
        Shape = shape;
    }

    /// <summary>Takes a buffer into the transaction and writes its part of the transaction into it (real memory, touched).</summary>
    public void Hold(IMemoryOwner<byte> buffer)
    {
        buffer.Memory.Span.Fill((byte)(Shape.PageSeed + _held.Count));
        _held.Add(buffer);
    }

    public void AddSpare(IMemoryOwner<byte> buffer) => _spare.Push(buffer);

    public IMemoryOwner<byte> TakeSpare() => _spare.Pop();

    /// <summary>Gives back every buffer it holds, spares included; returns how many it had drawn.</summary>
    public int RollBack()
    {
        int drawn = FreeHeld();
        ReturnSpare();
        return drawn;
    }

    /// <summary>Gives back the preallocated buffers it never drew; returns how many.</summary>
    public int ReturnSpare()
    {
        int unused = _spare.Count;
        while (_spare.TryPop(out IMemoryOwner<byte>? buffer))
        {
            buffer.Dispose();
        }

        return unused;
    }

    /// <summary>Writes the dirty pages into the cache (which keeps or copies them) and frees the other buffers; spares stay.</summary>
    public void Commit(PageCache cache)
    {
        Debug.Assert(_held.Count == Shape.Buffers, "a transaction commits once it holds all its buffers");
        cache.Write(Shape, CollectionsMarshal.AsSpan(_held)[..Shape.DirtyPages]);
        FreeHeld();
    }

    private int FreeHeld()
    {
        int drawn = _held.Count;
        foreach (IMemoryOwner<byte>? buffer in _held)
        {
            buffer?.Dispose(); // null: the page cache kept it
        }

        _held.Clear();
        return drawn;
    }
}
