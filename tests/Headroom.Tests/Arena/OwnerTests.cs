using System.Buffers;
using System.Runtime.InteropServices;

namespace Headroom.Tests.Arena;

/// <summary>
/// What a rented owner carries and checks (Arena/ArenaBuffer): the consumer it credits, its pins, its length from a
/// reserved pool, and its use after disposal.
/// </summary>
public sealed class OwnerTests
{
    [Fact]
    public void A_buffer_rented_by_a_consumer_is_credited_to_it_until_it_is_returned()
    {
        using MemoryBudget budget = TestBudgets.Flat(1L << 20);
        using var cancellation = new CancellationTokenSource();
        using MemoryConsumer consumer = budget.RegisterConsumer("query", cancellation);
        IMemoryOwner<byte> owner;
        using (consumer.Enter())
        {
            owner = budget.Rent(3000);
        }

        Assert.Equal(4096, consumer.Charged); // the class's footprint, what the budget charged
        owner.Dispose(); // outside the scope: the owner remembers whose bytes they were
        Assert.Equal(0, consumer.Charged);
        budget.TrimParked();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public unsafe void A_pin_points_into_the_buffer_up_to_its_end_and_not_past_it()
    {
        using MemoryBudget budget = TestBudgets.Flat(1L << 20);
        using (IMemoryOwner<byte> owner = budget.Rent(100))
        {
            Assert.True(MemoryMarshal.TryGetMemoryManager<byte, MemoryManager<byte>>(owner.Memory, out MemoryManager<byte>? manager));
            byte* start = (byte*)AddressOf(owner.Memory.Span);
            using (MemoryHandle first = manager!.Pin(1))
            using (MemoryHandle end = manager.Pin(100))
            {
                Assert.Equal((nint)(start + 1), (nint)first.Pointer);
                Assert.Equal((nint)(start + 100), (nint)end.Pointer);
            }

            ArgumentOutOfRangeException e = Assert.Throws<ArgumentOutOfRangeException>(() => manager.Pin(101));
            Assert.Equal("elementIndex", e.ParamName);
            Assert.Contains("101", e.Message, StringComparison.Ordinal);
            Assert.Throws<ArgumentOutOfRangeException>(() => manager.Pin(-1));
            owner.Dispose();
            Assert.Throws<ObjectDisposedException>(() => manager.Pin());
            Assert.Throws<ObjectDisposedException>(() => manager.GetSpan());
        }

        budget.TrimParked();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task A_reserved_pool_hands_out_whole_classes_and_direct_buffers_at_their_size()
    {
        using MemoryBudget budget = TestBudgets.Flat(8L << 20);
        MemoryReservation reservation = await budget.ReserveAsync(4L << 20, ReservationMode.Tokens);
        MemoryPool<byte> pool = budget.AsMemoryPool(reservation);
        using (IMemoryOwner<byte> small = pool.Rent(300))
        using (IMemoryOwner<byte> direct = pool.Rent((1 << 20) + 1))
        {
            Assert.Equal(512, small.Memory.Length); // the whole class, as MemoryPool<T> may
            Assert.Equal((1 << 20) + 1, direct.Memory.Length); // a direct buffer is exactly its size
            Assert.Equal(512 + (1L << 20) + 4096, reservation.Drawn); // the class, and the direct buffer's whole pages
        }

        pool.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pool.Rent((1 << 20) + 1)); // a direct size, which no share is asked for
        Assert.Throws<ObjectDisposedException>(() => pool.Rent(300));
        budget.TrimParked();
        Assert.Equal(0, budget.Used);
        reservation.Dispose();
        TestBudgets.AssertEmpty(budget);
    }

    private static unsafe void* AddressOf(Span<byte> span)
    {
        fixed (byte* pointer = span)
        {
            return pointer;
        }
    }
}
