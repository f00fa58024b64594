using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace Headroom.Extensions.Hosting.Tests.Caching;

/// <summary>Semantics §10 for the cache reclaimer: a refusal names the caller's parameter and value, and charges nothing.</summary>
public sealed class ParamNameTests
{
    [Fact]
    public void A_cache_holding_more_than_the_budget_is_refused_naming_the_cache_and_its_size()
    {
        using var cache = new MemoryCache(Options.Create(new MemoryCacheOptions { TrackStatistics = true, SizeLimit = 10_000 }));
        cache.Set("big", new object(), new MemoryCacheEntryOptions { Size = 2000 });
        using var budget = new MemoryBudget(new MemoryBudgetOptions { Name = "small", Capacity = 1000, MinWatermark = 0, LowWatermark = 0, HighWatermark = 0, CanaryInterval = Timeout.InfiniteTimeSpan });

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new MemoryCacheReclaimer(cache, budget));

        Assert.Equal("cache", e.ParamName); // the charge's own check would have named "bytes", a parameter the caller never saw
        Assert.Contains("2000 bytes", e.Message, StringComparison.Ordinal);
        Assert.Contains("'small'", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, budget.Used);
    }

    [Fact]
    public void A_disposed_reclaimer_names_its_budget()
    {
        using var cache = new MemoryCache(Options.Create(new MemoryCacheOptions { TrackStatistics = true, SizeLimit = 10_000 }));
        using var budget = new MemoryBudget(new MemoryBudgetOptions { Name = "small", Capacity = 1000, MinWatermark = 0, LowWatermark = 0, HighWatermark = 0, CanaryInterval = Timeout.InfiniteTimeSpan });
        var reclaimer = new MemoryCacheReclaimer(cache, budget);
        reclaimer.Dispose();

        var e = Assert.Throws<ObjectDisposedException>(() => reclaimer.TrySet("k", new object(), 10));

        Assert.Contains("'small'", e.ObjectName, StringComparison.Ordinal);
        Assert.Equal(0, budget.Used);
    }
}
