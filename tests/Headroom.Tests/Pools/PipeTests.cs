using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using Headroom.Arena;

namespace Headroom.Tests.Pools;

/// <summary>A <see cref="Pipe"/> on a budget's pool stays inside the budget, and none of its segments comes from ArrayPool.</summary>
public sealed class PipeTests
{
    private const long Total = 100L << 20; // 100 MiB, whole writes
    private const int Write = 4096;

    [Fact]
    public async Task A_pipe_moves_100_MiB_through_a_1_MiB_budget_without_leaving_it()
    {
        using MemoryBudget budget = TestBudgets.Flat(1L << 20);
        using MemoryPool<byte> pool = budget.AsMemoryPool();
        long moved = await Move(budget, pool);

        Assert.Equal(Total, moved);
        Assert.InRange(budget.Arena.Chunks.Peak, 1, budget.Capacity);
        budget.TrimParked();
        Assert.Equal(0, budget.Arena.Chunks.Bytes);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_pool_bound_to_a_reservation_serves_the_whole_pipe_from_it()
    {
        using MemoryBudget budget = TestBudgets.Flat(1L << 20);
        const long pause = 64 * 1024;
        MemoryReservation reservation = await budget.ReserveAsync(pause + (2 * Write));
        long moved;
        using (MemoryPool<byte> pool = budget.AsMemoryPool(reservation))
        {
            moved = await Move(budget, pool, pause);
            Assert.True(budget.Used <= reservation.Amount, $"the pool holds {budget.Used} bytes, beyond its reservation of {reservation.Amount}");
        }

        Assert.Equal(Total, moved);
        reservation.Dispose();
        budget.TrimParked();
        TestBudgets.AssertEmpty(budget);
    }

    /// <summary>Writes <see cref="Total"/> bytes in 4 KiB writes; the reader checks every segment is an arena buffer.</summary>
    private static async Task<long> Move(MemoryBudget budget, MemoryPool<byte> pool, long pause = 256 * 1024)
    {
        var pipe = new Pipe(new PipeOptions(pool, pauseWriterThreshold: pause, resumeWriterThreshold: pause / 2, minimumSegmentSize: Write, useSynchronizationContext: false));
        Task writer = Task.Run(async () =>
        {
            for (long written = 0; written < Total; written += Write)
            {
                Memory<byte> memory = pipe.Writer.GetMemory(Write);
                memory.Span[..Write].Fill((byte)(written / Write));
                pipe.Writer.Advance(Write);
                FlushResult flush = await pipe.Writer.FlushAsync();
                Assert.False(flush.IsCanceled);
            }

            await pipe.Writer.CompleteAsync();
        });

        long read = 0;
        long foreign = 0;
        while (true)
        {
            ReadResult result = await pipe.Reader.ReadAsync();
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
            {
                // ArrayPool's segments are arrays; the arena's are its own MemoryManager over native memory.
                if (!MemoryMarshal.TryGetMemoryManager(segment, out ArenaBuffer? buffer) || buffer.Budget != budget)
                {
                    foreign++;
                }
            }

            read += result.Buffer.Length;
            pipe.Reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        await pipe.Reader.CompleteAsync();
        await writer.WaitAsync(TimeSpan.FromSeconds(120));
        Assert.Equal(0, foreign);
        return read;
    }
}
