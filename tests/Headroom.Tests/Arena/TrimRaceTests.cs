using System.Buffers;
using Headroom.Arena;

namespace Headroom.Tests.Arena;

/// <summary>
/// The thread caches' asymmetric protocol on real threads and the real fence (ThreadCache): owners take and park
/// buffers with plain stores while another thread trims them as fast as it can. Coyote explores the arena-level
/// interleavings (ArenaConcurrencyTests); only real cores reorder a store after a load, so this runs on them.
/// </summary>
public sealed class TrimRaceTests
{
    private const int Rounds = 50_000;

    [Fact]
    public async Task Owners_renting_from_their_caches_while_another_thread_trims_never_share_or_lose_a_buffer()
    {
        using MemoryBudget budget = TestBudgets.Flat(64L << 20);
        NativeArena arena = budget.Arena;
        long trims = 0;
        using var stop = new CancellationTokenSource();

        void Owner(byte mark)
        {
            for (int round = 0; round < Rounds; round++)
            {
                IMemoryOwner<byte> owner = budget.Rent(4096, AllocationMode.NoWait);
                Span<byte> span = owner.Memory.Span;
                span.Fill(mark);
                Thread.SpinWait(round % 8); // widen the window in which a trim could take the buffer we hold
                Assert.True(span.IndexOfAnyExcept(mark) < 0, "a buffer this owner holds was handed out again, or freed under it");
                owner.Dispose();
            }
        }

        Task trimmer = Task.Factory.StartNew(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                budget.TrimParked();
                Assert.InRange(arena.Chunks.Bytes, 0, budget.Capacity);
                trims++;
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            Parallel.Invoke(new ParallelOptions { MaxDegreeOfParallelism = 2 }, () => Owner(1), () => Owner(2));
        }
        finally
        {
            stop.Cancel();
            await trimmer;
        }

        Assert.True(trims > 0, "the trimmer never ran");
        budget.TrimParked();
        Assert.Equal(0, arena.Chunks.Bytes); // the arena's own count: every buffer freed exactly once
        TestBudgets.AssertEmpty(budget);
    }
}
