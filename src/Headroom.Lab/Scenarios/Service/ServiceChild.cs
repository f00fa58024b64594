using System.Buffers;
using System.Globalization;
using Headroom.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Headroom.Lab.Scenarios.Service;

/// <summary>
/// The lab's child process for the service scenario: the same executable, started with <see cref="EnvironmentVariable"/>
/// set, inside a memory group made by the parent. It runs a Kestrel server on 127.0.0.1:0, writes its address as one
/// line, and serves uploads until the parent posts to <c>/stop</c>. Its upload handler buffers the whole body, then
/// spends <see cref="ProcessingTime"/> on it. <c>unmanaged</c>: Kestrel's defaults, the body in one array of
/// <c>Content-Length</c> bytes. <c>headroom</c>: <c>AddHeadroom</c>'s process budget, sized from the limit the child finds, Kestrel's
/// socket buffers from it (<see cref="TransportMemoryServiceCollectionExtensions.AddTransportMemory"/>), each request
/// admitted by memory (503 with <c>Retry-After</c> when its body cannot be reserved within the deadline) and its body
/// in native buffers drawn from its reservation.
/// </summary>
internal sealed class ServiceChild
{
    /// <summary>The hidden switch: "policy=…;limit=…;headroom=…". Not a command-line option, so the lab's options stay as they are.</summary>
    public const string EnvironmentVariable = "HEADROOM_LAB_SERVICE_CHILD";

    /// <summary>What a handler does with a body once it has it: a service parses and stores, which takes time.</summary>
    public static readonly TimeSpan ProcessingTime = TimeSpan.FromMilliseconds(50);

    private const int Chunk = 64 << 10;

    private readonly string _policy;
    private readonly long _limit;
    private readonly long _headroom;

    private ServiceChild(Dictionary<string, string> settings)
    {
        _policy = settings["policy"];
        _limit = long.Parse(settings["limit"], CultureInfo.InvariantCulture);
        _headroom = long.Parse(settings["headroom"], CultureInfo.InvariantCulture);
    }

    /// <summary>The child's settings when this process is the child, else null.</summary>
    public static ServiceChild? Requested() =>
        Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } text
            ? new ServiceChild(text.Split(';').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal))
            : null;

    public static string Describe(string policy, long limit, long headroom) =>
        string.Create(CultureInfo.InvariantCulture, $"policy={policy};limit={limit};headroom={headroom}");

    /// <summary>Serves until stopped and returns the exit code (0: stopped by the parent; 2: refused to run outside a limited group).</summary>
    public async Task<int> RunAsync()
    {
        // Never serve a load sized beyond a limit that is not there: outside a group it would be unbounded by the kernel.
        ProcessMemoryLimit found = ProcessMemoryLimit.Read();
        if (found.Source is not (MemoryLimitSource.CgroupV1 or MemoryLimitSource.CgroupV2) || found.LimitBytes > _limit)
        {
            await Console.Error.WriteLineAsync($"service child: not inside a memory group of at most {_limit} bytes ({found.Description}); not running").ConfigureAwait(false);
            return 2;
        }

        bool headroom = _policy switch
        {
            "unmanaged" => false,
            "headroom" => true,
            _ => throw new ArgumentOutOfRangeException(nameof(_policy), _policy, "Unknown service policy."),
        };

        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(System.Net.IPAddress.Loopback, 0));
        if (headroom)
        {
            // The process budget (the limit the runtime finds, less the headroom) as the container's MemoryBudget.
            builder.Services.AddHeadroom(options =>
            {
                options.HeadroomBytes = _headroom;
                options.ChargeMemoryCache = false;
            });

            // Small per-connection buffers and a connection limit: the transports' reservation is sized from them.
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.Limits.MaxConcurrentConnections = 64;
                kestrel.Limits.MaxRequestBufferSize = Chunk;
                kestrel.Limits.MaxResponseBufferSize = Chunk;
            });
            builder.WebHost.UseSockets(sockets =>
            {
                sockets.MaxReadBufferSize = Chunk;
                sockets.MaxWriteBufferSize = Chunk;
            });
            builder.Services.AddTransportMemory();
            builder.Services.AddMemoryAdmission(options =>
            {
                options.Deadline = TimeSpan.FromMilliseconds(500); // a client would rather hear 503 soon than wait long
                options.RetryAfter = TimeSpan.FromSeconds(1);
            });
        }

        await using WebApplication app = builder.Build();
        if (headroom)
        {
            app.UseMemoryAdmission();
        }

        app.MapPost("/upload", (Func<HttpContext, Task<IResult>>)(context => headroom ? BufferInBudgetAsync(context, context.RequestServices.GetRequiredService<MemoryBudget>()) : BufferInArrayAsync(context)))
            .WithMemoryAdmission(2 * Chunk); // the last, partly filled buffer and one more
        app.MapPost("/stop", (IHostApplicationLifetime lifetime) =>
        {
            lifetime.StopApplication();
            return Microsoft.AspNetCore.Http.Results.Ok();
        });

        await app.StartAsync().ConfigureAwait(false);
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        await Console.Out.WriteLineAsync($"address {address} capacity {(headroom ? app.Services.GetRequiredService<MemoryBudget>().Capacity : 0)} limit {found.LimitBytes}").ConfigureAwait(false);
        await Console.Out.FlushAsync().ConfigureAwait(false);
        await app.WaitForShutdownAsync().ConfigureAwait(false);
        return 0;
    }

    private static async Task<IResult> BufferInArrayAsync(HttpContext context)
    {
        byte[] body = new byte[context.Request.ContentLength ?? 0];
        int read = await context.Request.Body.ReadAtLeastAsync(body, body.Length, throwOnEndOfStream: false).ConfigureAwait(false);
        body[^1] ^= 1; // the body is resident, as a parsed one would be
        await Task.Delay(ProcessingTime).ConfigureAwait(false);
        GC.KeepAlive(body);
        return Microsoft.AspNetCore.Http.Results.Text(read.ToString(CultureInfo.InvariantCulture));
    }

    private static async Task<IResult> BufferInBudgetAsync(HttpContext context, MemoryBudget budget)
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
                int read = await context.Request.Body.ReadAtLeastAsync(buffer.Memory, Chunk, throwOnEndOfStream: false).ConfigureAwait(false);
                total += read;
                if (read < Chunk)
                {
                    break;
                }
            }

            await Task.Delay(ProcessingTime).ConfigureAwait(false);
            return Microsoft.AspNetCore.Http.Results.Text(total.ToString(CultureInfo.InvariantCulture));
        }
        finally
        {
            foreach (IMemoryOwner<byte> buffer in held)
            {
                buffer.Dispose();
            }
        }
    }
}
