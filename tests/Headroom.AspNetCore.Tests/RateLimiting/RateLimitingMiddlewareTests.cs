using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Headroom.AspNetCore.Tests.RateLimiting;

/// <summary>The limiter as ASP.NET Core's rate-limiting middleware uses it: one permit (here 1 MiB) per request, as a partition's limiter.</summary>
public sealed class RateLimitingMiddlewareTests
{
    private const long Permit = 1 << 20;

    [Fact]
    public async Task Requests_hold_a_permit_of_bytes_while_they_run_and_are_rejected_when_the_budget_has_none()
    {
        MemoryBudget budget = Budgets.Flat(4 * Permit);
        var inHandler = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.Services.AddRateLimiter(options =>
        {
            options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            options.AddPolicy("memory", _ => RateLimitPartition.Get("all", _ => new MemoryRateLimiter(budget, new MemoryRateLimiterOptions { BytesPerPermit = Permit })));
        });
        long reservedInHandler = -1;
        await using (WebApplication app = builder.Build())
        {
            app.UseRateLimiter();
            app.MapGet("/work", async () =>
            {
                reservedInHandler = budget.Reserved;
                inHandler.TrySetResult();
                await release.Task;
                return "done";
            }).RequireRateLimiting("memory");
            await app.StartAsync();
            var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
            using var client = new HttpClient { BaseAddress = address };

            Task<HttpResponseMessage> running = client.GetAsync(new Uri("/work", UriKind.Relative));
            await inHandler.Task.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(Permit, reservedInHandler); // the request's permit is a reservation of its bytes

            MemoryReservation rest = await budget.ReserveAsync(budget.Available); // the budget has no permit left
            using (HttpResponseMessage rejected = await client.GetAsync(new Uri("/work", UriKind.Relative)))
            {
                Assert.Equal(HttpStatusCode.TooManyRequests, rejected.StatusCode);
            }

            release.TrySetResult();
            using (HttpResponseMessage done = await running.WaitAsync(TimeSpan.FromSeconds(10)))
            {
                Assert.Equal(HttpStatusCode.OK, done.StatusCode);
            }

            await Budgets.Until(() => budget.Reserved == rest.Amount, "the finished request's permit is returned");
            await rest.DisposeAsync();
            await app.StopAsync();
        }

        Budgets.AssertEmpty(budget);
        await budget.DisposeAsync();
    }
}
