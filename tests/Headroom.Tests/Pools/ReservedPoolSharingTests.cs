using System.Buffers;
using System.Runtime.InteropServices;
using Headroom.Arena;

namespace Headroom.Tests.Pools;

/// <summary>
/// A pool bound to a reservation keeps its returned buffers in one share per core (Pools/KeptBuffers): a buffer kept on
/// one core serves a rent on any other before anything new is drawn, no buffer is ever out twice at once, and a
/// disposal racing rents and returns leaves nothing charged.
/// </summary>
public sealed class ReservedPoolSharingTests
{
    private const int Threads = 4;

    [Fact]
    public async Task A_buffer_kept_by_one_thread_serves_a_rent_on_another_without_a_new_draw()
    {
        using MemoryBudget budget = TestBudgets.Flat(1L << 20);
        MemoryReservation reservation = await budget.ReserveAsync(64 * 1024, ReservationMode.Tokens); // a rent draws from it first, so Drawn shows every new charge
        using (MemoryPool<byte> pool = budget.AsMemoryPool(reservation))
        {
            nint first = await Task.Factory.StartNew(() => RentAndReturn(pool), TaskCreationOptions.LongRunning);
            long drawn = reservation.Drawn;

            nint second = await Task.Factory.StartNew(() => RentAndReturn(pool), TaskCreationOptions.LongRunning);

            Assert.Equal(first, second);
            Assert.Equal(drawn, reservation.Drawn); // served from what the first thread kept, wherever that was
            Assert.Equal(4096, drawn);
        }

        reservation.Dispose();
        budget.TrimParked();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task Threads_sharing_one_pool_never_hold_the_same_buffer_and_leave_nothing_charged()
    {
        using MemoryBudget budget = TestBudgets.Flat(4L << 20);
        MemoryReservation reservation = await budget.ReserveAsync(1L << 20, ReservationMode.Tokens);
        long peak;
        using (MemoryPool<byte> pool = budget.AsMemoryPool(reservation))
        {
            using var start = new Barrier(Threads);
            Task[] workers = [.. Enumerable.Range(0, Threads).Select(t => Task.Factory.StartNew(() => Churn(pool, (byte)(t + 1), start, budget), TaskCreationOptions.LongRunning))];
            await Task.WhenAll(workers);
            peak = budget.Used;
            Assert.True(peak <= reservation.Amount, $"the pool holds {peak} bytes, beyond its reservation of {reservation.Amount}");
            Assert.Equal(peak, reservation.Drawn); // everything the pool holds was drawn from the reservation, and all of it is kept now
        }

        budget.TrimParked();
        Assert.Equal(0, budget.Used); // the disposal gave every kept buffer back (to ordinary memory, as any uncharge of a draw)
        reservation.Dispose();
        budget.TrimParked();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_disposal_racing_rents_and_returns_on_other_threads_leaves_nothing_charged()
    {
        for (int round = 0; round < 20; round++)
        {
            using MemoryBudget budget = TestBudgets.Flat(4L << 20);
            MemoryReservation reservation = await budget.ReserveAsync(1L << 20, ReservationMode.Tokens);
            MemoryPool<byte> pool = budget.AsMemoryPool(reservation);
            using var start = new Barrier(Threads + 1);
            Task<int>[] workers = [.. Enumerable.Range(0, Threads).Select(t => Task.Factory.StartNew(() => ChurnUntilDisposed(pool, start), TaskCreationOptions.LongRunning))];
            start.SignalAndWait();
            Thread.Sleep(round % 3); // let some rounds dispose at once, others mid-churn
            pool.Dispose();
            int[] refused = await Task.WhenAll(workers);

            Assert.All(refused, r => Assert.Equal(1, r)); // each worker saw exactly one ObjectDisposedException, then stopped
            Assert.Throws<ObjectDisposedException>(() => pool.Rent(100));
            budget.TrimParked();
            Assert.Equal(0, budget.Used); // buffers returned after the disposal went to the arena, not to a closed share
            reservation.Dispose();
            budget.TrimParked();
            TestBudgets.AssertEmpty(budget);
        }
    }

    private static nint RentAndReturn(MemoryPool<byte> pool)
    {
        IMemoryOwner<byte> owner = pool.Rent(4096);
        nint address = Address(owner);
        owner.Dispose();
        return address;
    }

    /// <summary>
    /// Rents sizes of several classes, holds up to eight, stamps each with the thread's mark and checks the mark is
    /// still whole before returning it: a buffer handed to two holders at once would carry the other's mark.
    /// </summary>
    private static void Churn(MemoryPool<byte> pool, byte mark, Barrier start, MemoryBudget budget)
    {
        var held = new Queue<IMemoryOwner<byte>>();
        var random = new Random(mark);
        start.SignalAndWait();
        for (int i = 0; i < 20_000; i++)
        {
            IMemoryOwner<byte> owner = pool.Rent(random.Next(1, 16 * 1024));
            owner.Memory.Span.Fill(mark);
            held.Enqueue(owner);
            if (held.Count > random.Next(1, 8))
            {
                IMemoryOwner<byte> oldest = held.Dequeue();
                Assert.True(oldest.Memory.Span.IndexOfAnyExcept(mark) < 0, "a buffer was handed to another holder while this one held it");
                oldest.Dispose();
            }

            if (i % 1024 == 0)
            {
                TestBudgets.AssertI1(budget);
            }
        }

        while (held.TryDequeue(out IMemoryOwner<byte>? owner))
        {
            Assert.True(owner.Memory.Span.IndexOfAnyExcept(mark) < 0, "a buffer was handed to another holder while this one held it");
            owner.Dispose();
        }
    }

    /// <summary>Rents and returns until the pool refuses; returns how many refusals it saw (one, then it stops; none if it never refused within 10 s).</summary>
    private static int ChurnUntilDisposed(MemoryPool<byte> pool, Barrier start)
    {
        var held = new Queue<IMemoryOwner<byte>>();
        start.SignalAndWait();
        long deadline = Environment.TickCount64 + 10_000;
        try
        {
            while (Environment.TickCount64 < deadline)
            {
                held.Enqueue(pool.Rent(held.Count % 2 == 0 ? 4096 : 300));
                if (held.Count > 4)
                {
                    held.Dequeue().Dispose();
                }
            }

            Drain(held);
            return 0;
        }
        catch (ObjectDisposedException)
        {
            Drain(held); // after the disposal: back to the arena, uncharged
            return 1;
        }
    }

    private static void Drain(Queue<IMemoryOwner<byte>> held)
    {
        while (held.TryDequeue(out IMemoryOwner<byte>? owner))
        {
            owner.Dispose();
        }
    }

    private static nint Address(IMemoryOwner<byte> owner) =>
        MemoryMarshal.TryGetMemoryManager<byte, ArenaBuffer>(owner.Memory, out ArenaBuffer? buffer) ? buffer!.Address : throw new InvalidOperationException("not an arena buffer");
}
