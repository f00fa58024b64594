using System.Buffers;
using Headroom.Lab.Scenarios.Transactions;

namespace Headroom.Lab.Tests.Transactions;

/// <summary>The page cache against an independent ledger: what the test itself rented and handed to it.</summary>
[Collection(TransactionRuns.Collection)]
public sealed class PageCacheTests
{
    private const int Page = TransactionSizing.PageBytes;

    [Fact]
    public void Dirty_pages_are_written_and_fsynced_before_they_are_dropped_and_dropping_uncharges_them()
    {
        using var budget = new MemoryBudget(1 << 20);
        string path = Path.Combine(Path.GetTempPath(), $"headroom-lab-transactions-test-{Guid.NewGuid():N}.dat");
        using (var cache = new PageCache(path))
        {
            TransactionShape shape = DistinctPages(3);
            IMemoryOwner<byte>?[] buffers = [.. Enumerable.Range(0, 3).Select(_ => budget.Rent(Page))];
            cache.Write(shape, buffers);

            Assert.All(buffers, Assert.Null); // three distinct pages: the cache kept all three buffers
            Assert.Equal(3L * Page, InUse(budget));
            Assert.Equal(3L * Page, cache.DirtyPages.GetReclaimableBytes());
            Assert.Equal(0, cache.CleanPages.GetReclaimableBytes());
            Assert.Equal(0, cache.CleanPages.Reclaim(Page, CancellationToken.None).Freed); // nothing clean to drop

            ReclaimResult result = cache.DirtyPages.Reclaim(2L * Page, CancellationToken.None);

            Assert.Equal(2L * Page, result.Freed);
            Assert.Equal(1L * Page, InUse(budget));
            Assert.Equal(2, cache.PagesWritten);
            Assert.Equal(1, cache.Fsyncs);
            Assert.Equal(2, cache.DirtyDropped);
            Assert.True(File.Exists(path));
            Assert.Equal(1, cache.DropAll());
            Assert.Equal(0, InUse(budget));
        }

        Assert.False(File.Exists(path)); // deleted on close
    }

    [Fact]
    public async Task The_flusher_cleans_dirty_pages_which_reclaim_then_drops_without_writing()
    {
        using var budget = new MemoryBudget(1 << 20);
        using var cache = new PageCache(Path.Combine(Path.GetTempPath(), $"headroom-lab-transactions-test-{Guid.NewGuid():N}.dat"));
        cache.Write(DistinctPages(2), [budget.Rent(Page), budget.Rent(Page)]);
        using (var stop = new CancellationTokenSource())
        {
            Task flusher = cache.FlushAsync(TimeSpan.FromMilliseconds(5), stop.Token);
            while (cache.Count.Clean < 2)
            {
                await Task.Delay(5);
            }

            await stop.CancelAsync();
            await flusher;
        }

        Assert.Equal(2, cache.PagesWritten);
        Assert.Equal(0, cache.DirtyPages.GetReclaimableBytes());
        Assert.Equal(2L * Page, cache.CleanPages.Reclaim(10L * Page, CancellationToken.None).Freed);
        Assert.Equal(2, cache.PagesWritten); // dropping clean pages writes nothing
        Assert.Equal(0, InUse(budget));
    }

    [Fact]
    public void A_commit_to_a_cached_page_copies_into_it_and_makes_it_dirty_again()
    {
        using var budget = new MemoryBudget(1 << 20);
        using var cache = new PageCache(Path.Combine(Path.GetTempPath(), $"headroom-lab-transactions-test-{Guid.NewGuid():N}.dat"));
        TransactionShape shape = DistinctPages(1);
        cache.Write(shape, [budget.Rent(Page)]);
        IMemoryOwner<byte>?[] again = [budget.Rent(Page)];

        cache.Write(shape, again);

        Assert.NotNull(again[0]); // copied: the caller still owns its buffer
        again[0]!.Dispose();
        Assert.Equal(1L * Page, InUse(budget));
        Assert.Equal(1L * Page, cache.DirtyPages.GetReclaimableBytes());
        Assert.Equal(1, cache.DropAll());
        Assert.Equal(0, InUse(budget));
    }

    /// <summary>A shape whose first <paramref name="pages"/> dirty pages are distinct file pages.</summary>
    private static TransactionShape DistinctPages(int pages)
    {
        for (int seed = 0; ; seed++)
        {
            var shape = new TransactionShape(pages, pages, seed);
            if (Enumerable.Range(0, pages).Select(shape.Page).Distinct().Count() == pages)
            {
                return shape;
            }
        }
    }

    /// <summary>Bytes in pages held: Used less the buffers the arena parked for reuse (still charged to the budget).</summary>
    private static long InUse(MemoryBudget budget) => budget.Used - budget.Parked;
}
