using Headroom.Tests;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Headroom.Extensions.Hosting.Tests.Configuration;

/// <summary>Per-site policies follow the configuration at run time (IOptionsMonitor): a reload applies to the next charge, without a restart.</summary>
public sealed class SiteReloadTests
{
    [Fact]
    public async Task A_site_policy_added_by_a_reload_makes_the_next_charge_wait_and_its_removal_makes_it_fail_again()
    {
        var settings = new SettableConfiguration(TestHosts.FlatRoot());
        IHost host = TestHosts.Build(settings);
        await host.StartAsync();
        var configuration = (IConfigurationRoot)host.Services.GetRequiredService<IConfiguration>();
        MemoryBudget root = host.Services.GetRequiredService<MemoryBudget>();
        root.Charge(1000, AllocationMode.NoWait); // full: the ledger holds 1000

        // No policy yet: a MayFail charge of "journal" fails after its one pass of reclaim.
        await Assert.ThrowsAsync<MemoryAllocationException>(() => root.ChargeAsync(100, AllocationMode.MayFail, site: "journal").AsTask());

        settings.Edit("Headroom:Sites:journal:RetryForever", "true");
        configuration.Reload();

        // The reloaded policy: the same call now waits its turn (NoFail), and is granted by the next uncharge.
        Task waiting = root.ChargeAsync(100, AllocationMode.MayFail, site: "journal").AsTask();
        Assert.False(waiting.IsCompleted);
        TestBudgets.AssertQueued(root, 1);
        root.Uncharge(1000);
        await waiting;
        Assert.Equal(100, root.Used);
        root.Uncharge(100);

        // Removed again: the next charge fails as its caller's mode says.
        root.Charge(1000, AllocationMode.NoWait);
        settings.Remove("Headroom:Sites:journal:RetryForever");
        configuration.Reload();
        Assert.Null(root.Tree.SitePolicy("journal"));
        await Assert.ThrowsAsync<MemoryAllocationException>(() => root.ChargeAsync(100, AllocationMode.MayFail, site: "journal").AsTask());
        root.Uncharge(1000);

        await TestHosts.StopAsync(host);
        TestBudgets.AssertEmpty(root);
    }

    [Fact]
    public async Task A_reload_with_an_invalid_policy_is_refused_naming_its_key_and_the_previous_policy_stays()
    {
        Dictionary<string, string?> initial = TestHosts.FlatRoot();
        initial["Headroom:Sites:journal:MaxRetries"] = "3";
        var settings = new SettableConfiguration(initial);
        IHost host = TestHosts.Build(settings);
        await host.StartAsync();
        var configuration = (IConfigurationRoot)host.Services.GetRequiredService<IConfiguration>();
        MemoryBudget root = host.Services.GetRequiredService<MemoryBudget>();
        Assert.Equal(new SitePolicy { MaxRetries = 3 }, root.Tree.SitePolicy("journal"));

        settings.Edit("Headroom:Sites:journal:MaxRetries", "-1");
        Exception thrown = Assert.ThrowsAny<Exception>(configuration.Reload); // from the change callbacks, as a file watcher would see it
        OptionsValidationException e = Assert.Single(Flatten(thrown).OfType<OptionsValidationException>());
        Assert.StartsWith("Headroom:Sites:journal:MaxRetries: ", Assert.Single(e.Failures), StringComparison.Ordinal);
        Assert.Equal(new SitePolicy { MaxRetries = 3 }, root.Tree.SitePolicy("journal"));

        settings.Edit("Headroom:Sites:journal:MaxRetries", "5");
        configuration.Reload();
        Assert.Equal(new SitePolicy { MaxRetries = 5 }, root.Tree.SitePolicy("journal"));

        await TestHosts.StopAsync(host);
        TestBudgets.AssertEmpty(root);
    }

    [Fact]
    public async Task A_policy_set_in_code_survives_a_reload_and_one_set_on_the_budget_directly_is_left_alone()
    {
        var settings = new SettableConfiguration(TestHosts.FlatRoot());
        IHost host = TestHosts.Build(settings, headroom: h => h.SetSitePolicy("btree-split", new SitePolicy { MaxRetries = 1 }));
        await host.StartAsync();
        var configuration = (IConfigurationRoot)host.Services.GetRequiredService<IConfiguration>();
        MemoryBudget root = host.Services.GetRequiredService<MemoryBudget>();
        root.SetSitePolicy("direct", new SitePolicy { MaxRetries = 7 });

        settings.Edit("Headroom:Sites:journal:MaxWait", "00:00:30");
        settings.Edit("Headroom:Capacity", "2000");
        configuration.Reload();

        Assert.Equal(new SitePolicy { MaxWait = TimeSpan.FromSeconds(30) }, root.Tree.SitePolicy("journal"));
        Assert.Equal(new SitePolicy { MaxRetries = 1 }, root.Tree.SitePolicy("btree-split"));
        Assert.Equal(new SitePolicy { MaxRetries = 7 }, root.Tree.SitePolicy("direct"));
        Assert.Equal(2000, host.Services.GetRequiredService<IOptionsMonitor<HeadroomOptions>>().CurrentValue.Capacity);
        Assert.Equal(1000, root.Capacity); // capacities are read once, at start

        await TestHosts.StopAsync(host);
        TestBudgets.AssertEmpty(root);
    }

    private static IEnumerable<Exception> Flatten(Exception e) =>
        e is AggregateException a ? a.InnerExceptions.SelectMany(Flatten) : e.InnerException is { } inner ? [e, .. Flatten(inner)] : [e];
}
