using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Headroom.AspNetCore.Tests.Service;

/// <summary>The package on top of <c>AddHeadroom</c>: its root budget is the one Kestrel's pools and admission use.</summary>
public sealed class AddHeadroomTests
{
    [Fact]
    public async Task Kestrels_pools_and_admission_take_the_budget_AddHeadroom_registers_and_give_everything_back_at_shutdown()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0);
            kestrel.Limits.MaxConcurrentConnections = 4;
        });
        builder.Services.AddHeadroom(options =>
        {
            options.Capacity = 32L << 20;
            options.ChargeMemoryCache = false;
        });
        builder.Services.AddTransportMemory();
        builder.Services.AddMemoryAdmission();
        MemoryBudget budget;
        await using (WebApplication app = builder.Build())
        {
            app.UseMemoryAdmission();
            app.MapGet("/reserved", (HttpContext context) => context.Features.Get<IMemoryAdmissionFeature>()!.Reservation.Budget.Name).WithMemoryAdmission(1 << 20);
            await app.StartAsync();
            budget = app.Services.GetRequiredService<MemoryBudget>();
            BudgetMemoryPoolFactory factory = app.Services.GetRequiredService<BudgetMemoryPoolFactory>();
            Assert.Same(budget, factory.Budget);
            Assert.Equal(4 * ((1L << 20) + (64 << 10) + 8192), factory.Reservation!.Amount);

            var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
            using var client = new HttpClient { BaseAddress = address };
            Assert.Equal(budget.Name, await client.GetStringAsync(new Uri("/reserved", UriKind.Relative)));
            Assert.True(factory.Reservation.Drawn > 0, "the request's bytes went through the transports' reservation");
            await app.StopAsync();
        }

        // The container disposed the factory (its reservation) and then the tree; nothing is left charged or reserved.
        Assert.True(budget.IsDisposed);
        Assert.Equal(0, budget.Used);
        Assert.Equal(0, budget.Reserved);
        Assert.Equal(0, budget.Stocked);
    }
}
