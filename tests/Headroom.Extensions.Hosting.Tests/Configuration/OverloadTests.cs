using Headroom.Tests;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Headroom.Extensions.Hosting.Tests.Configuration;

/// <summary>AddHeadroom's other ways in: a section passed in (keys named under its own path), and options set in code.</summary>
public sealed class OverloadTests
{
    private static IHost Build(Action<HostApplicationBuilder> configure, IDictionary<string, string?>? settings = null)
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(settings ?? new Dictionary<string, string?>());
        configure(builder);
        return builder.Build();
    }

    [Fact]
    public async Task A_section_passed_in_is_bound_and_its_bad_values_are_named_under_its_own_path()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Service:Memory:Capacity"] = "1000",
            ["Service:Memory:Budgets:tenant:Capacity"] = "2000",
        };
        IHost host = Build(b => b.Services.AddHeadroom(b.Configuration.GetSection("Service:Memory")), settings);

        OptionsValidationException e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.StartsWith("Service:Memory:Budgets:tenant:Capacity: ", Assert.Single(e.Failures), StringComparison.Ordinal);
        host.Dispose();
    }

    [Fact]
    public async Task Options_set_in_code_build_the_same_tree()
    {
        IHost host = Build(b => b.Services.AddHeadroom(o =>
        {
            o.Name = "engine";
            o.Capacity = 1000;
            o.MinWatermark = o.LowWatermark = o.HighWatermark = 0;
            o.Budgets["tenant"] = new HeadroomBudgetOptions { Capacity = 400, MinWatermark = 0, LowWatermark = 0, HighWatermark = 0 };
            o.Sites["journal"] = new SitePolicy { MaxWait = TimeSpan.FromSeconds(1) };
        }));
        await host.StartAsync();
        HeadroomBudgets budgets = host.Services.GetRequiredService<HeadroomBudgets>();

        Assert.Equal(1000, budgets.Root.Capacity);
        Assert.Equal(400, budgets["tenant"].Capacity);
        Assert.Equal(new SitePolicy { MaxWait = TimeSpan.FromSeconds(1) }, budgets.Root.Tree.SitePolicy("journal"));
        budgets["tenant"].Charge(400, AllocationMode.NoWait);
        Assert.False(budgets["tenant"].TryCharge(1));
        budgets["tenant"].Uncharge(400);

        await TestHosts.StopAsync(host);
        TestBudgets.AssertEmpty(budgets.Root, budgets["tenant"]);
    }
}
