using System.Buffers;
using System.Runtime.InteropServices;

namespace Headroom.Lab.Scenarios.Transactions;

/// <summary>A mempool element: one page of native memory, charged by the pool that made it (not by itself).</summary>
internal sealed unsafe class NativePage : IDisposable
{
    private byte* _pointer = (byte*)NativeMemory.Alloc(TransactionSizing.PageBytes);

    public byte* Pointer => _pointer;

    public void Dispose()
    {
        NativeMemory.Free(_pointer);
        _pointer = null;
    }
}

/// <summary>An element lent by a <see cref="Mempool{T}"/> as a buffer; disposing it gives it back to the pool.</summary>
internal sealed unsafe class PooledBuffer(Mempool<NativePage> pool, NativePage page) : MemoryManager<byte>
{
    private NativePage? _page = page;

    /// <summary>Whether giving it back now would refill the pool rather than uncharge the budget (an estimate under races).</summary>
    public bool RefillsPool => pool.Pooled < pool.MinElements;

    public override Span<byte> GetSpan()
    {
        ObjectDisposedException.ThrowIf(_page is null, this);
        return new Span<byte>(_page.Pointer, TransactionSizing.PageBytes);
    }

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ObjectDisposedException.ThrowIf(_page is null, this);
        return new MemoryHandle(_page.Pointer + elementIndex);
    }

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _page, null) is { } returned)
        {
            pool.Free(returned);
        }
    }
}
