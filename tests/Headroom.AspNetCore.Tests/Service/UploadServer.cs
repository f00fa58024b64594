using System.Buffers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Headroom.AspNetCore.Tests.Service;

/// <summary>
/// A real Kestrel server on 127.0.0.1:0 with the budget's memory pool factory and admission by memory. Its upload
/// endpoint buffers the whole body in 64 KiB buffers rented from the budget (drawn from the request's reservation),
/// then holds them until <see cref="Release"/> lets handlers finish, so that overload can be made to last.
/// </summary>
internal sealed class UploadServer : IAsyncDisposable
{
    internal const int Chunk = 64 << 10;

    private readonly WebApplication _app;
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private UploadServer(WebApplication app, BudgetMemoryPoolFactory factory, Uri address)
    {
        _app = app;
        Factory = factory;
        Address = address;
    }

    internal BudgetMemoryPoolFactory Factory { get; }

    internal Uri Address { get; }

    /// <summary>Starts the server. <paramref name="configureAdmission"/> may change the admission options (after the defaults of these tests).</summary>
    internal static async Task<UploadServer> StartAsync(MemoryBudget budget, int? maxConnections, Action<MemoryAdmissionOptions>? configureAdmission = null, bool releaseAtOnce = false, Action<TransportMemoryOptions>? configureTransport = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel =>
        {
            kestrel.Listen(System.Net.IPAddress.Loopback, 0);
            kestrel.Limits.MaxConcurrentConnections = maxConnections;
        });
        builder.Services.AddSingleton(budget);
        builder.Services.AddTransportMemory(configureTransport);
        builder.Services.AddMemoryAdmission(options =>
        {
            options.Deadline = TimeSpan.FromSeconds(1);
            options.RetryAfter = TimeSpan.FromSeconds(2);
            configureAdmission?.Invoke(options);
        });

        WebApplication app = builder.Build();
        UploadServer? server = null;
        app.UseMemoryAdmission();
        app.MapPost("/upload", async (HttpContext context) =>
        {
            var held = new List<IMemoryOwner<byte>>();
            try
            {
                long total = 0;
                while (true)
                {
                    // Inside the request's reservation (Tokens mode): drawn from it, so NoWait cannot fail here.
                    IMemoryOwner<byte> buffer = budget.Rent(Chunk, AllocationMode.NoWait);
                    held.Add(buffer);
                    int read = await context.Request.Body.ReadAtLeastAsync(buffer.Memory, Chunk, throwOnEndOfStream: false);
                    total += read;
                    if (read < Chunk)
                    {
                        break;
                    }
                }

                await server!._release.Task;
                return Results.Text(total.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            finally
            {
                foreach (IMemoryOwner<byte> buffer in held)
                {
                    buffer.Dispose();
                }
            }
        }).WithMemoryAdmission(2 * Chunk); // the last, partly filled buffer and one more
        app.MapGet("/feature", (HttpContext context) =>
            context.Features.Get<IMemoryAdmissionFeature>() is { } feature ? Results.Text($"{feature.Reservation.Amount} {feature.Reservation.Mode}") : Results.Text("none"))
            .WithMemoryAdmission(Chunk);

        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        server = new UploadServer(app, app.Services.GetRequiredService<BudgetMemoryPoolFactory>(), new Uri(address));
        if (releaseAtOnce)
        {
            server.Release();
        }

        return server;
    }

    internal void Release() => _release.TrySetResult();

    public async ValueTask DisposeAsync()
    {
        Release();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
