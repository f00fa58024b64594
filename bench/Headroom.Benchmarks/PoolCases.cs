using System.Buffers;
using System.IO.Pipelines;
using Microsoft.Extensions.ObjectPool;

namespace Headroom.Benchmarks;

/// <summary>
/// Quick mode's rows for issue 11's remaining targets: a reservation against the reservation floor, a Pipe over the
/// budget's pool against one over <see cref="MemoryPool{T}.Shared"/>, and <see cref="Mempool{T}"/> against
/// Microsoft.Extensions.ObjectPool's <see cref="DefaultObjectPool{T}"/>.
/// </summary>
internal static class PoolCases
{
    private const long GiB = 1L << 30;
    private const int Segment = 4096;
    private const string SharedPipe = "pipe over memorypool.shared";
    private const string SharedPipeOwners = "pipe over memorypool.shared, an owner per segment";
    private const string ObjectPool = "objectpool get+return";

    public static IReadOnlyList<QuickCase> All { get; } =
    [
        // One op is a 4 KiB write, flush, read and advance; 256 MB is 65,536 of them. Target: throughput ratio >= 0.95,
        // that is, this row's ratio at most 1/0.95 = 1.05.
        new("pipe 4KiB write+read over budget pool", 1, SharedPipe, () => PipeRound(new MemoryBudget(GiB).AsMemoryPool(AllocationMode.NoWait)), () => PipeRound(MemoryPool<byte>.Shared)),

        // The same shape as the budget's pool: a Pipe recognises MemoryPool<byte>.Shared itself and takes arrays from
        // ArrayPool<byte>.Shared with no owner per segment; behind any other pool object it rents an owner each time.
        new("pipe 4KiB write+read over budget pool", 1, SharedPipeOwners, () => PipeRound(new MemoryBudget(GiB).AsMemoryPool(AllocationMode.NoWait)), () => PipeRound(new SharedPoolBehindAnother())),

        new("mempool alloc+free", 1, ObjectPool, MempoolAllocFree, ObjectPoolGetReturn),
        new("mempool alloc+free", 2, ObjectPool, MempoolAllocFree, ObjectPoolGetReturn),
    ];

    /// <summary>A pipe read on the thread that writes it (inline schedulers): each flush completes at once.</summary>
    private static RoundBody PipeRound(MemoryPool<byte> pool)
    {
        var pipe = new Pipe(new PipeOptions(pool, PipeScheduler.Inline, PipeScheduler.Inline, minimumSegmentSize: Segment, useSynchronizationContext: false));
        return n =>
        {
            for (long i = 0; i < n; i++)
            {
                Memory<byte> memory = pipe.Writer.GetMemory(Segment);
                memory.Span[0] = (byte)i;
                pipe.Writer.Advance(Segment);
                if (!FlushedAtOnce(pipe.Writer.FlushAsync()) || !pipe.Reader.TryRead(out ReadResult read))
                {
                    throw new InvalidOperationException("The pipe paused although its reader keeps up.");
                }

                pipe.Reader.AdvanceTo(read.Buffer.End);
            }

            return n;
        };
    }

    /// <summary>A flush that completed synchronously has nothing more to consume (no pooled source behind it).</summary>
    private static bool FlushedAtOnce(ValueTask<FlushResult> flush) => flush.IsCompletedSuccessfully;

    /// <summary>A pool kept at 64 elements, each charged 64 bytes; a fresh element while the budget has room (mempool_alloc's first step).</summary>
    private static RoundBody MempoolAllocFree()
    {
        var pool = new Mempool<object>(new MemoryBudget(GiB), minElements: 64, elementBytes: 64, static () => new object());
        return n =>
        {
            for (long i = 0; i < n; i++)
            {
                pool.Free(pool.Alloc(AllocationMode.NoWait));
            }

            return n;
        };
    }

    private static RoundBody ObjectPoolGetReturn()
    {
        var pool = new DefaultObjectPool<object>(new DefaultPooledObjectPolicy<object>(), 64);
        return n =>
        {
            for (long i = 0; i < n; i++)
            {
                pool.Return(pool.Get());
            }

            return n;
        };
    }

    /// <summary><see cref="MemoryPool{T}.Shared"/> behind another object, so that a Pipe rents its owners as from any pool.</summary>
    private sealed class SharedPoolBehindAnother : MemoryPool<byte>
    {
        public override int MaxBufferSize => Shared.MaxBufferSize;

        public override IMemoryOwner<byte> Rent(int minBufferSize = -1) => Shared.Rent(minBufferSize);

        protected override void Dispose(bool disposing)
        {
        }
    }
}
