using System.Net;
using System.Net.Http.Headers;
using Xunit.Abstractions;

namespace Headroom.AspNetCore.Tests.Service;

/// <summary>A real Kestrel server and HttpClient: concurrent uploads whose total exceeds a 64 MiB budget.</summary>
public sealed class KestrelUploadTests(ITestOutputHelper output)
{
    private const long Capacity = 64L << 20;
    private const int Connections = 16;
    private const int UploadBytes = 6 << 20;

    [Fact]
    public async Task Uploads_beyond_the_budget_are_answered_200_or_503_with_retry_after_and_every_byte_comes_back()
    {
        var budget = new MemoryBudget(new MemoryBudgetOptions { Name = "service", Capacity = Capacity, CanaryInterval = Timeout.InfiniteTimeSpan });
        long peakUsed = 0;
        long peakTransportDrawn = 0;
        var statuses = new List<HttpStatusCode>();
        var retryAfters = new List<TimeSpan?>();
        await using (UploadServer server = await UploadServer.StartAsync(budget, Connections))
        {
            MemoryReservation transport = server.Factory.Reservation!;
            Assert.Equal(Connections * ((1L << 20) + (64 << 10) + 2 * 4096), transport.Amount); // sized from Kestrel's limits

            using var sampling = new CancellationTokenSource();
            Task sampler = Task.Run(async () =>
            {
                while (!sampling.IsCancellationRequested)
                {
                    peakUsed = Math.Max(peakUsed, budget.Used);
                    peakTransportDrawn = Math.Max(peakTransportDrawn, transport.Drawn);
                    await Task.Delay(1);
                }
            });

            using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Connections }) { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(30) };
            byte[] body = new byte[UploadBytes];
            Random.Shared.NextBytes(body);
            Task<HttpResponseMessage>[] uploads = [.. Enumerable.Range(0, Connections).Select(_ => Upload(client, body))];

            // The admitted handlers hold their buffers until the first answer (a 503: nothing else can finish before
            // the release), so overload lasts past the admission deadline.
            await Task.WhenAny(uploads).WaitAsync(TimeSpan.FromSeconds(20));
            server.Release();
            HttpResponseMessage[] responses = await Task.WhenAll(uploads).WaitAsync(TimeSpan.FromSeconds(30));
            await sampling.CancelAsync();
            await sampler;
            foreach (HttpResponseMessage response in responses)
            {
                statuses.Add(response.StatusCode);
                retryAfters.Add(response.Headers.RetryAfter?.Delta);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    Assert.Equal(UploadBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), await response.Content.ReadAsStringAsync());
                }

                response.Dispose();
            }
        }

        output.WriteLine($"200: {statuses.Count(s => s == HttpStatusCode.OK)}, 503: {statuses.Count(s => s == HttpStatusCode.ServiceUnavailable)}, peak Used {peakUsed}, peak transport drawn {peakTransportDrawn}");
        Assert.All(statuses, status => Assert.True(status is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable, $"unexpected {status}"));
        Assert.Contains(HttpStatusCode.OK, statuses);
        Assert.Contains(HttpStatusCode.ServiceUnavailable, statuses);
        Assert.All(statuses.Zip(retryAfters).Where(r => r.First == HttpStatusCode.ServiceUnavailable), r => Assert.Equal(TimeSpan.FromSeconds(2), r.Second));
        Assert.InRange(peakUsed, 1, Capacity);
        Assert.True(peakTransportDrawn > 0, "Kestrel's socket buffers were drawn from the transports' reservation");

        Budgets.AssertEmpty(budget);
        await budget.DisposeAsync();
    }

    private static async Task<HttpResponseMessage> Upload(HttpClient client, byte[] body)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/upload") { Content = content };
        request.Headers.ExpectContinue = true; // a request answered 503 before its body is read never sends it
        return await client.SendAsync(request);
    }
}
