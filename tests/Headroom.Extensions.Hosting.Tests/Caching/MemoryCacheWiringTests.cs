using Headroom.Tests;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Headroom.Extensions.Hosting.Tests.Caching;

/// <summary>AddHeadroom charges the container's IMemoryCache to a budget and shrinks it under that budget's pressure.</summary>
public sealed class MemoryCacheWiringTests
{
    [Fact]
    public async Task The_registered_memory_cache_is_charged_and_compacted_under_pressure()
    {
        IHost host = TestHosts.Build(TestHosts.FlatRoot(), configure: b => b.Services.AddMemoryCache(o => o.SizeLimit = 10_000));
        await host.StartAsync();
        MemoryBudget root = host.Services.GetRequiredService<MemoryBudget>();
        var cache = (MemoryCache)host.Services.GetRequiredService<IMemoryCache>();
        MemoryCacheReclaimer reclaimer = Assert.IsType<MemoryCacheReclaimer>(host.Services.GetRequiredService<HeadroomBudgets>().CacheReclaimer);

        for (int i = 0; i < 8; i++)
        {
            Assert.True(reclaimer.TrySet(i, $"entry {i}", 100));
        }

        cache.Set("direct", "added straight to the cache", new MemoryCacheEntryOptions { Size = 100 });
        reclaimer.Reconcile();
        Assert.Equal(900, root.Used);
        Assert.Equal(900, cache.GetCurrentStatistics()!.CurrentEstimatedSize); // TrackStatistics was turned on for it

        Assert.True(root.TryCharge(400, AllocationMode.MayFail)); // 900 + 400 > 1000: reclaim compacts the cache by whole entries
        Assert.Equal(400 + reclaimer.Charged, root.Used);
        Assert.InRange(reclaimer.Charged, 0, 600);
        Assert.Equal(cache.GetCurrentStatistics()!.CurrentEstimatedSize, reclaimer.Charged);
        root.Uncharge(400);

        await TestHosts.StopAsync(host);
        TestBudgets.AssertEmpty(root); // the reclaimer was disposed with the tree: what the cache held is uncharged
    }

    [Fact]
    public async Task The_cache_is_charged_to_the_configured_budget()
    {
        Dictionary<string, string?> settings = TestHosts.FlatRoot();
        settings["Headroom:Budgets:cache:Capacity"] = "300";
        settings["Headroom:MemoryCacheBudget"] = "cache";
        IHost host = TestHosts.Build(settings, configure: b => b.Services.AddMemoryCache(o => o.SizeLimit = 10_000));
        await host.StartAsync();
        HeadroomBudgets budgets = host.Services.GetRequiredService<HeadroomBudgets>();
        MemoryCacheReclaimer reclaimer = Assert.IsType<MemoryCacheReclaimer>(budgets.CacheReclaimer);

        var cache = (MemoryCache)host.Services.GetRequiredService<IMemoryCache>();
        Assert.True(reclaimer.TrySet("a", null, 200));
        Assert.True(reclaimer.TrySet("b", null, 200)); // 400 > 300 at the cache's budget, though the root has room: reclaim there compacts "a" away
        Assert.False(cache.TryGetValue("a", out _));
        Assert.True(cache.TryGetValue("b", out _));
        Assert.Equal(200, budgets["cache"].Used);
        Assert.Equal(200, budgets.Root.Used);

        await TestHosts.StopAsync(host);
        TestBudgets.AssertEmpty(budgets.Root, budgets["cache"]);
    }

    [Fact]
    public async Task A_cache_without_a_size_limit_is_left_uncharged_and_the_reason_logged()
    {
        IHost host = TestHosts.Build(TestHosts.FlatRoot(), configure: b =>
        {
            b.Services.AddMemoryCache();
            b.Logging.AddFakeLogging();
        });
        await host.StartAsync();
        MemoryBudget root = host.Services.GetRequiredService<MemoryBudget>();

        Assert.Null(host.Services.GetRequiredService<HeadroomBudgets>().CacheReclaimer);
        FakeLogRecord warning = Assert.Single(host.Services.GetFakeLogCollector().GetSnapshot(), static r => r.Level == LogLevel.Warning);
        Assert.Contains("not charged to budget 'engine'", warning.Message, StringComparison.Ordinal);
        Assert.Contains("SizeLimit", warning.Message, StringComparison.Ordinal);
        host.Services.GetRequiredService<IMemoryCache>().Set("k", "v"); // the cache works as before: no size is demanded of its entries

        await TestHosts.StopAsync(host);
        TestBudgets.AssertEmpty(root);
    }

    [Fact]
    public async Task Charging_the_cache_can_be_turned_off()
    {
        Dictionary<string, string?> settings = TestHosts.FlatRoot();
        settings["Headroom:ChargeMemoryCache"] = "false";
        IHost host = TestHosts.Build(settings, configure: b => b.Services.AddMemoryCache(o => o.SizeLimit = 10_000));
        await host.StartAsync();

        Assert.Null(host.Services.GetRequiredService<HeadroomBudgets>().CacheReclaimer);
        Assert.Null(((MemoryCache)host.Services.GetRequiredService<IMemoryCache>()).GetCurrentStatistics()); // statistics stay off too
        MemoryBudget root = host.Services.GetRequiredService<MemoryBudget>();

        await TestHosts.StopAsync(host);
        TestBudgets.AssertEmpty(root);
    }
}
