using Headroom.Arena;

namespace Headroom.Tests.Arena;

/// <summary>
/// One thread's parked buffers: the hot slot and the row behind it are one strictly LIFO stack per class, bounded by
/// the class's share of the thread's limit, and every buffer in it is counted and taken by a trim.
/// </summary>
public sealed class ThreadCacheTests
{
    private const int Class = 6; // 4 KiB

    [Theory]
    [InlineData(0)] // the class parks nothing
    [InlineData(1)] // the hot slot alone
    [InlineData(2)]
    [InlineData(5)]
    public void A_class_holds_its_limit_in_LIFO_order_counts_every_buffer_and_a_trim_takes_them_all(int limit)
    {
        using MemoryBudget budget = TestBudgets.Flat(64L << 20);
        int footprint = SizeClasses.Footprint(Class);
        var cache = new ThreadCache(budget.Arena, limitBytes: (long)limit * footprint);
        var ledger = new Stack<nint>(); // what the test parked, newest on top
        Assert.True(cache.TryEnter());

        for (nint buffer = 0x1000; buffer <= 0x1000 * (limit + 2); buffer += 0x1000)
        {
            bool parked = cache.Push(Class, buffer);
            Assert.Equal(ledger.Count < limit, parked);
            if (parked)
            {
                ledger.Push(buffer);
            }

            Assert.Equal((long)ledger.Count * footprint, cache.Bytes);
        }

        // Out and back in between, as rents and returns interleave: the newest comes out first each time.
        if (ledger.Count > 1)
        {
            nint newest = cache.Pop(Class);
            nint next = cache.Pop(Class);
            Assert.Equal(ledger.Pop(), newest);
            Assert.Equal(ledger.Pop(), next);
            Assert.True(cache.Push(Class, next));
            Assert.True(cache.Push(Class, newest));
            ledger.Push(next);
            ledger.Push(newest);
        }

        Assert.Equal(0, cache.Pop(Class - 1)); // another class has nothing
        var taken = new List<(nint Buffer, int Class)>();
        Assert.Equal((long)ledger.Count * footprint, cache.TakeAll(taken, long.MaxValue));
        Assert.Equal(ledger.Order().ToArray(), taken.Select(t => t.Buffer).Order().ToArray());
        Assert.All(taken, t => Assert.Equal(Class, t.Class));
        Assert.Equal(0, cache.Bytes);
        Assert.Equal(0, cache.Pop(Class));
        cache.Exit();
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_partial_trim_takes_the_newest_of_the_largest_class_and_leaves_the_rest_in_order()
    {
        using MemoryBudget budget = TestBudgets.Flat(64L << 20);
        int footprint = SizeClasses.Footprint(Class);
        var cache = new ThreadCache(budget.Arena, limitBytes: 4L * footprint);
        Assert.True(cache.TryEnter());
        foreach (nint buffer in new nint[] { 0x1000, 0x2000, 0x3000 })
        {
            Assert.True(cache.Push(Class, buffer));
        }

        Assert.True(cache.Push(Class - 1, 0x4000)); // a smaller class, which a trim reaches only after this one
        var taken = new List<(nint Buffer, int Class)>();
        Assert.Equal(footprint, cache.TakeAll(taken, footprint)); // a trim that needs one buffer takes the newest of the largest class, and stops
        Assert.Equal(0x3000, taken.Single().Buffer);
        Assert.Equal(0x4000, cache.Pop(Class - 1));
        Assert.Equal(0x2000, cache.Pop(Class));
        Assert.Equal(0x1000, cache.Pop(Class));
        Assert.Equal(0, cache.Pop(Class));
        Assert.Equal(0, cache.Bytes);
        cache.Exit();
        TestBudgets.AssertEmpty(budget);
    }
}
