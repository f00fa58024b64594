using System.Net;
using Headroom.AspNetCore.Tests.Service;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Headroom.AspNetCore.Tests.Admission;

/// <summary>Admission by memory on a real Kestrel: the reservation a request holds, its release, 503 past the deadline, 413, and options checked at start.</summary>
public sealed class MemoryAdmissionTests
{
    private const long Capacity = 8L << 20;
    private const int Connections = 2;
    private static readonly TimeSpan Bounded = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task The_handler_runs_inside_its_reservation_which_is_released_when_the_response_completes()
    {
        MemoryBudget budget = Budgets.Flat(Capacity);
        await using (UploadServer server = await UploadServer.StartAsync(budget, Connections, releaseAtOnce: true))
        {
            long transport = server.Factory.Reservation!.Amount;
            using var client = new HttpClient { BaseAddress = server.Address };
            Assert.Equal($"{UploadServer.Chunk} Tokens", await client.GetStringAsync(new Uri("/feature", UriKind.Relative)));
            await Budgets.Until(() => budget.Reserved == transport - server.Factory.Reservation.Drawn, "the request's reservation is released");

            using var upload = new ByteArrayContent(new byte[1 << 20]);
            using HttpResponseMessage ok = await client.PostAsync(new Uri("/upload", UriKind.Relative), upload);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Equal((1 << 20).ToString(System.Globalization.CultureInfo.InvariantCulture), await ok.Content.ReadAsStringAsync());
            await Budgets.Until(() => budget.Reserved == transport - server.Factory.Reservation.Drawn, "the upload's reservation is released");
        }

        Budgets.AssertEmpty(budget);
        await budget.DisposeAsync();
    }

    [Fact]
    public async Task A_request_not_granted_within_the_deadline_is_answered_503_with_retry_after_and_one_granted_in_time_runs()
    {
        var time = new FakeTimeProvider();
        MemoryBudget budget = Budgets.Flat(Capacity);
        await using (UploadServer server = await UploadServer.StartAsync(budget, Connections, options => options.TimeProvider = time, releaseAtOnce: true))
        {
            using var client = new HttpClient { BaseAddress = server.Address };
            MemoryReservation everything = await budget.ReserveAsync(budget.Available);

            Task<HttpResponseMessage> late = client.GetAsync(new Uri("/feature", UriKind.Relative));
            await Budgets.Until(() => budget.Queue.Count == 1, "the request waits for its reservation");
            time.Advance(TimeSpan.FromSeconds(1)); // the deadline
            using (HttpResponseMessage refused = await late.WaitAsync(Bounded))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
                Assert.Equal(TimeSpan.FromSeconds(2), refused.Headers.RetryAfter?.Delta);
            }

            Assert.Equal(0, budget.Queue.Count); // the refused request left nothing behind
            Task<HttpResponseMessage> inTime = client.GetAsync(new Uri("/feature", UriKind.Relative));
            await Budgets.Until(() => budget.Queue.Count == 1, "the second request waits for its reservation");
            await everything.DisposeAsync();
            using (HttpResponseMessage admitted = await inTime.WaitAsync(Bounded))
            {
                Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
            }
        }

        Budgets.AssertEmpty(budget);
        await budget.DisposeAsync();
    }

    [Fact]
    public async Task A_body_larger_than_the_budget_could_ever_reserve_beside_the_transports_is_answered_413_at_once()
    {
        MemoryBudget budget = Budgets.Flat(Capacity);
        await using (UploadServer server = await UploadServer.StartAsync(budget, Connections, releaseAtOnce: true))
        {
            using var client = new HttpClient { BaseAddress = server.Address };
            using var huge = new ByteArrayContent(new byte[Capacity + 1]);
            using var request = new HttpRequestMessage(HttpMethod.Post, "/upload") { Content = huge };
            request.Headers.ExpectContinue = true;
            using HttpResponseMessage response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
            Assert.Equal(0, budget.Queue.Count);

            // Within the capacity, but not beside the transports' reservation, which is held while the server runs.
            long transport = server.Factory.Reservation!.Amount;
            using var beside = new ByteArrayContent(new byte[Capacity - transport - 2 * UploadServer.Chunk + 1]);
            using var second = new HttpRequestMessage(HttpMethod.Post, "/upload") { Content = beside };
            second.Headers.ExpectContinue = true;
            using HttpResponseMessage refused = await client.SendAsync(second);
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refused.StatusCode);

            using var fits = new ByteArrayContent(new byte[Capacity - transport - 3 * UploadServer.Chunk]); // a chunk of slack for what the transports hold beyond their share
            using HttpResponseMessage admitted = await client.PostAsync(new Uri("/upload", UriKind.Relative), fits);
            Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
        }

        Budgets.AssertEmpty(budget);
        await budget.DisposeAsync();
    }

    [Fact]
    public async Task Bad_admission_options_fail_the_start_naming_the_option()
    {
        MemoryBudget budget = Budgets.Flat(Capacity);
        OptionsValidationException e = await Assert.ThrowsAsync<OptionsValidationException>(() => UploadServer.StartAsync(budget, Connections, options => options.Deadline = TimeSpan.Zero));
        Assert.Contains("MemoryAdmissionOptions.Deadline", e.Message, StringComparison.Ordinal);
        e = await Assert.ThrowsAsync<OptionsValidationException>(() => UploadServer.StartAsync(budget, Connections, options => options.RetryAfter = TimeSpan.FromMilliseconds(500)));
        Assert.Contains("MemoryAdmissionOptions.RetryAfter", e.Message, StringComparison.Ordinal);
        Budgets.AssertEmpty(budget);
        await budget.DisposeAsync();
    }

    [Fact]
    public async Task Bad_transport_options_or_an_unlimited_connection_count_fail_the_start_and_say_what_to_set()
    {
        MemoryBudget budget = Budgets.Flat(Capacity);
        OptionsValidationException e = await Assert.ThrowsAsync<OptionsValidationException>(() => UploadServer.StartAsync(budget, Connections, configureTransport: options => options.OverflowMode = AllocationMode.NoFail));
        Assert.Contains("TransportMemoryOptions.OverflowMode", e.Message, StringComparison.Ordinal);

        Exception unlimited = await Assert.ThrowsAnyAsync<Exception>(() => UploadServer.StartAsync(budget, maxConnections: null));
        Assert.Contains("MaxConcurrentConnections", unlimited.ToString(), StringComparison.Ordinal);
        Budgets.AssertEmpty(budget);
        await budget.DisposeAsync();
    }
}
