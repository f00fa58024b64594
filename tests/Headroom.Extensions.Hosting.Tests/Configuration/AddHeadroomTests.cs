using Headroom.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Headroom.Extensions.Hosting.Tests.Configuration;

/// <summary>AddHeadroom from appsettings-style configuration: the tree it builds at start, and the root it registers.</summary>
public sealed class AddHeadroomTests
{
    private const string AppSettings = """
        {
          "Headroom": {
            "Name": "engine",
            "Capacity": 1000000,
            "CanaryInterval": "00:00:05",
            "Oom": { "Policy": "NewestFirst", "KillTimeout": "00:00:02" },
            "Budgets": {
              "tenants": { "Capacity": 400000 },
              "tenant-a": { "Parent": "tenants", "Capacity": 100000, "MinWatermark": 0, "LowWatermark": 0, "HighWatermark": 0 }
            },
            "Sites": {
              "journal": { "RetryForever": true }
            }
          }
        }
        """;

    [Fact]
    public async Task A_tree_from_appsettings_json_is_built_at_start_with_the_root_as_the_containers_budget()
    {
        IHost host = TestHosts.BuildFromJson(AppSettings);
        await host.StartAsync();

        MemoryBudget root = host.Services.GetRequiredService<MemoryBudget>();
        HeadroomBudgets budgets = host.Services.GetRequiredService<HeadroomBudgets>();
        Assert.Same(root, budgets.Root);
        Assert.Equal("engine", root.Name);
        Assert.Equal(1_000_000, root.Capacity);
        Assert.Null(root.ProcessLimit); // a fixed capacity, not the process budget
        Assert.Equal(["engine", "tenant-a", "tenants"], budgets.Names.Order(StringComparer.Ordinal));

        MemoryBudget tenants = budgets["tenants"], tenantA = budgets["tenant-a"];
        Assert.Same(root, tenants.Parent);
        Assert.Same(tenants, tenantA.Parent);
        Assert.Equal(400_000, tenants.Capacity);
        Assert.Equal(100_000, tenantA.Capacity);
        Assert.Equal(0, tenantA.LowWatermark);
        Assert.True(budgets.TryGet("tenant-a", out MemoryBudget? found));
        Assert.Same(tenantA, found);
        Assert.False(budgets.TryGet("nobody", out _));
        Assert.Contains("'tenant-a'", Assert.Throws<KeyNotFoundException>(() => budgets["nobody"]).Message, StringComparison.Ordinal);

        // A charge at the grandchild counts at every level; the configured site policy is the tree's.
        tenantA.Charge(60_000, AllocationMode.NoWait);
        Assert.Equal(60_000, tenants.Used);
        Assert.Equal(60_000, root.Used);
        Assert.Equal(new SitePolicy { RetryForever = true }, root.Tree.SitePolicy("journal"));
        Assert.Equal(OomPolicy.NewestFirst, root.DryRunOom().Policy);
        tenantA.Uncharge(60_000);

        await TestHosts.StopAsync(host);
        TestBudgets.AssertEmpty(root, tenants, tenantA);
    }

    [Fact]
    public async Task Without_a_fixed_capacity_the_root_is_the_process_budget()
    {
        IHost host = TestHosts.Build(new Dictionary<string, string?> { ["Headroom:HeadroomFraction"] = "0.5" });
        await host.StartAsync();

        MemoryBudget root = host.Services.GetRequiredService<MemoryBudget>();
        ProcessMemoryLimit limit = Assert.IsType<ProcessMemoryLimit>(root.ProcessLimit);
        Assert.Equal("process", root.Name);
        Assert.Equal(limit.LimitBytes - (long)Math.Ceiling(limit.LimitBytes * 0.5), root.Capacity);

        await TestHosts.StopAsync(host);
        TestBudgets.AssertEmpty(root);
    }

    [Fact]
    public async Task The_builder_adds_budgets_and_site_policies_in_code_and_a_second_AddHeadroom_adds_to_the_same_tree()
    {
        IHost host = TestHosts.Build(TestHosts.FlatRoot(), headroom: h => h
            .AddBudget("cache", 400)
            .AddBudget("cache-hot", 100, parent: "cache")
            .SetSitePolicy("btree-split", new SitePolicy { MaxRetries = 2 }),
            configure: b => b.Services.AddHeadroom().AddBudget("queries", 300));
        await host.StartAsync();

        HeadroomBudgets budgets = host.Services.GetRequiredService<HeadroomBudgets>();
        Assert.Equal(["cache", "cache-hot", "engine", "queries"], budgets.Names.Order(StringComparer.Ordinal));
        Assert.Same(budgets["cache"], budgets["cache-hot"].Parent);
        Assert.Equal(new SitePolicy { MaxRetries = 2 }, budgets.Root.Tree.SitePolicy("btree-split"));
        Assert.Single(host.Services.GetServices<MemoryBudget>());

        await TestHosts.StopAsync(host);
        TestBudgets.AssertEmpty(budgets.Root);
    }

    [Fact]
    public async Task Every_budget_is_a_keyed_service_under_its_name()
    {
        IHost host = TestHosts.Build(TestHosts.FlatRoot(), headroom: h => h.AddBudget("tenant", 500));
        await host.StartAsync();
        HeadroomBudgets budgets = host.Services.GetRequiredService<HeadroomBudgets>();

        Assert.Same(budgets["tenant"], host.Services.GetRequiredKeyedService<MemoryBudget>("tenant"));
        Assert.Same(budgets.Root, host.Services.GetRequiredKeyedService<MemoryBudget>("engine"));
        Assert.Same(budgets.Root, host.Services.GetRequiredService<MemoryBudget>());
        Assert.Contains("'tenant'", Assert.Throws<KeyNotFoundException>(() => host.Services.GetKeyedService<MemoryBudget>("nobody")).Message, StringComparison.Ordinal);

        await TestHosts.StopAsync(host);
        TestBudgets.AssertEmpty(budgets.Root, budgets["tenant"]);
    }

    [Fact]
    public async Task The_container_disposes_the_root_asynchronously_with_the_host()
    {
        IHost host = TestHosts.Build(TestHosts.FlatRoot(), headroom: h => h.AddBudget("tenant", 500));
        await host.StartAsync();
        HeadroomBudgets budgets = host.Services.GetRequiredService<HeadroomBudgets>();
        MemoryBudget root = budgets.Root, tenant = budgets["tenant"];
        Assert.False(root.IsDisposed);

        await TestHosts.StopAsync(host);

        Assert.True(root.IsDisposed);
        Assert.True(tenant.IsDisposed);
        Assert.True(root.Tree.Reclaimers.Stopped.IsCompleted); // DisposeAsync awaited the background worker's end
        Assert.Throws<ObjectDisposedException>(() => root.TryCharge(1));
        TestBudgets.AssertEmpty(root, tenant);
    }

    [Fact]
    public void Bad_builder_arguments_are_refused_at_once()
    {
        var services = new ServiceCollection();
        HeadroomBuilder builder = services.AddHeadroom();
        Assert.Throws<ArgumentOutOfRangeException>(() => builder.AddBudget("tenant", 0));
        Assert.Throws<ArgumentException>(() => builder.AddBudget(" ", 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => builder.UseFixedCapacity(-1));
        Assert.Throws<ArgumentNullException>(() => builder.SetSitePolicy("journal", null!));
        Assert.Throws<ArgumentException>(() => builder.BindConfiguration(""));
        Assert.Throws<ArgumentException>(() => builder.AddReclaimer<NoReclaimer>(new ReclaimerOptions(), budget: ""));
    }

    private sealed class NoReclaimer : IMemoryReclaimer
    {
        public long GetReclaimableBytes() => 0;

        public ReclaimResult Reclaim(long target, CancellationToken cancellationToken) => ReclaimResult.Stop;
    }
}
