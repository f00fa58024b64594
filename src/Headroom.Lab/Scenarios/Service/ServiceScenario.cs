using System.Diagnostics;
using System.Globalization;
using System.Net;
using Headroom.Lab.Report;
using Headroom.Lab.Scenarios.Container;

namespace Headroom.Lab.Scenarios.Service;

/// <summary>
/// Scenario 7, service: the lab starts a Kestrel server (a child of itself, <see cref="ServiceChild"/>) inside a real
/// cgroup v1 memory group with a <see cref="Limit"/>, and sends it <see cref="Clients"/> concurrent uploads of
/// <see cref="UploadBytes"/> each, which together want more than the limit. <c>unmanaged</c> buffers bodies in arrays
/// with Kestrel's defaults; <c>headroom</c> runs the process budget, Kestrel's pools from it and admission by memory.
/// Where no group can be made here, both policies are reported as not run, with the reason.
/// </summary>
internal sealed class ServiceScenario : IScenario
{
    /// <summary>The group's limit: room for an ASP.NET Core process and a few bodies, not for all of them at once.</summary>
    public const long Limit = 192L << 20;

    /// <summary>What the headroom policy leaves to the runtime, the JIT, Kestrel's managed objects and the GC heap.</summary>
    public const long Headroom = 96L << 20;

    /// <summary>One upload's body.</summary>
    public const int UploadBytes = 8 << 20;

    /// <summary>Concurrent clients: their bodies together (192 MiB) are the whole limit, before the process's own memory.</summary>
    public const int Clients = 24;

    private static readonly TimeSpan LongestLoad = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan MinimumLoad = TimeSpan.FromSeconds(1);

    /// <summary>How often the load's end checks, once it is due, whether every client has had an answer.</summary>
    private static readonly TimeSpan AnswerPoll = TimeSpan.FromMilliseconds(50);

    /// <summary>A client answered 503 waits this long before it tries again (shorter than Retry-After, to keep the pressure on).</summary>
    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(100);

    private readonly string _controller;

    /// <summary>Creates the scenario; <paramref name="controller"/> is where the v1 memory controller is looked for (tests name a missing one).</summary>
    public ServiceScenario(string controller = MemoryGroup.DefaultController)
    {
        _controller = controller;
    }

    public string Name => "service";

    public string Title => "A Kestrel service under concurrent large uploads, in its container";

    public string Why =>
        "A web service that buffers request bodies has no say in how many arrive at once: under a burst of large uploads its " +
        "memory is whatever the clients send, and in a container the kernel kills it. Here a real Kestrel server runs in a " +
        "child process inside a real memory cgroup and the lab sends it more concurrent uploads than the limit holds: with " +
        "Kestrel's defaults it fails or is killed; with the process budget, Kestrel's buffers from it and admission by " +
        "memory, the excess is answered 503 with Retry-After and the service lives.";

    public IReadOnlyList<string> Variants => [];

    public IReadOnlyList<string> Policies => ["unmanaged", "headroom"];

    /// <summary>The child's start (a second runtime with ASP.NET Core, under load) and an upload's wait are not stalls.</summary>
    public TimeSpan StallAfter => TimeSpan.FromSeconds(30);

    public async Task RunAsync(PolicyRun run, CancellationToken cancellationToken)
    {
        if (!Policies.Contains(run.Policy, StringComparer.Ordinal))
        {
            throw new ArgumentOutOfRangeException(nameof(run), run.Policy, $"Unknown policy of {Name}.");
        }

        using MemoryGroup? group = MemoryGroup.TryCreate("lab-service", Limit, out _, out string why, _controller);
        if (group is null)
        {
            run.NotRun(why);
            return;
        }

        TimeSpan duration = run.Settings.Duration < LongestLoad ? run.Settings.Duration : LongestLoad;
        (string file, IReadOnlyList<string> prefix) = SelfLaunch.For(typeof(ServiceScenario).Assembly);
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [ServiceChild.EnvironmentVariable] = ServiceChild.Describe(run.Policy, Limit, Headroom),

            // glibc's malloc (under NativeMemory) keeps freed blocks below its dynamic mmap threshold in per-thread
            // arenas, so a process whose native buffers come and go grows resident far past what it holds (measured
            // here: 170 MiB resident beside 60 MiB held, until the kernel killed it). A fixed threshold at the 64 KiB
            // class returns such blocks to the kernel on free; two arenas bound the rest. Both policies run with it.
            ["MALLOC_MMAP_THRESHOLD_"] = "65536",
            ["MALLOC_ARENA_MAX"] = "2",
        };

        // Not 'using': the group kills what it started when it is disposed, and a disposed Process could not be killed.
        Process child = group.Start(file, prefix, environment);
        var clock = Stopwatch.StartNew();
        var outcome = new LoadOutcome();
        Task<string> stderr = child.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            run.Activity("server", $"pid {child.Id} in {group.Path}, starting");
            string[] started = await ReadStartAsync(child, stderr, cancellationToken).ConfigureAwait(false);
            var address = new Uri(started[1]);
            run.Figure("budgetCapacityBytes", double.Parse(started[3], CultureInfo.InvariantCulture));
            run.Figure("limitFoundBytes", double.Parse(started[5], CultureInfo.InvariantCulture));
            run.Activity("server", $"pid {child.Id} serving at {address}");
            run.Figure("serverStartSeconds", clock.Elapsed.TotalSeconds);

            // The load ends at the run's duration counted from the start, so that the server's start (a second
            // runtime with ASP.NET Core) eats into it rather than past the runner's deadline; but it lasts a second at least.
            TimeSpan end = clock.Elapsed + MinimumLoad > duration ? clock.Elapsed + MinimumLoad : duration;

            // On a loaded machine a fresh server's first answers (its code still being compiled, 24 bodies of 8 MiB
            // arriving at once) came later than that: one run ended its load 2.4 s after a 2.6 s start with no upload
            // answered at all, 200 or 503, and proved nothing. So the load goes on past its end until every client has
            // had an answer, up to half the run's duration more, which the runner's deadline (twice the duration) leaves.
            TimeSpan latest = end > run.Settings.Duration * 1.5 ? end : run.Settings.Duration * 1.5;
            TimeSpan loadStarted = clock.Elapsed;
            using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Clients }) { BaseAddress = address, Timeout = TimeSpan.FromSeconds(20) };
            byte[] body = new byte[UploadBytes];
            new Random(run.Settings.Seed).NextBytes(body);
            using (var load = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                Task clients = Task.WhenAll(Enumerable.Range(0, Clients).Select(_ => Task.Run(() => ClientAsync(client, body, child, run, outcome, load.Token, cancellationToken), CancellationToken.None)));
                while (!clients.IsCompleted)
                {
                    TimeSpan now = clock.Elapsed;
                    if (cancellationToken.IsCancellationRequested || now >= latest || (now >= end && Volatile.Read(ref outcome.Answered) == Clients))
                    {
                        await load.CancelAsync().ConfigureAwait(false); // uploads still under way now are cut short and counted nowhere
                        break;
                    }

                    TimeSpan wait = now < end ? end - now : latest - now < AnswerPoll ? latest - now : AnswerPoll;
                    await Task.WhenAny(clients, Task.Delay(wait, cancellationToken)).ConfigureAwait(false);
                }

                await clients.ConfigureAwait(false);
            }

            run.Figure("loadSeconds", (clock.Elapsed - loadStarted).TotalSeconds);
            run.Figure("answeredClients", outcome.Answered);

            TimeSpan stopping = clock.Elapsed;
            await StopAsync(client, child, cancellationToken).ConfigureAwait(false);
            run.Figure("serverStopSeconds", (clock.Elapsed - stopping).TotalSeconds);
        }
        finally
        {
            if (!child.HasExited)
            {
                child.Kill(entireProcessTree: true); // cancelled or failed before it stopped: never leave a server behind
            }
        }

        int exitCode = child.ExitCode;
        long kills = group.OomKills;
        // Unmanaged is expected to die under this load, by the kernel's SIGKILL (137) or by the runtime's own abort
        // on an allocation it cannot make (a code other than 137 ended one CI run): either is its figure, not the lab's error.
        if (exitCode is not (0 or 137 or -1) && run.Policy != "unmanaged")
        {
            throw new InvalidOperationException($"The service child ({run.Policy}) exited with {exitCode}: {(await stderr.ConfigureAwait(false)).Trim()}");
        }

        for (long i = 0; i < kills; i++)
        {
            run.OomKill(wasCause: true); // the kernel's OOM killer: the group has one process, the server
        }

        long peak = group.PeakUsageBytes;
        run.ObserveUsed(peak);
        run.Figure(FigureNames.Survived, exitCode == 0 ? 1 : 0);
        run.Figure("exitCode", exitCode);
        run.Figure("ok", outcome.Ok);
        run.Figure("rejected503", outcome.Rejected);
        run.Figure("failed", outcome.Failed);
        run.Figure("limitBytes", group.LimitBytes);
        run.Figure("peakResidentBytes", peak);
        run.Figure("failcnt", group.FailCount);
        run.Figure("kernelOomKills", kills);
    }

    /// <summary>The child's first line: "address URL capacity N limit N".</summary>
    private static async Task<string[]> ReadStartAsync(Process child, Task<string> stderr, CancellationToken cancellationToken)
    {
        using var start = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        start.CancelAfter(TimeSpan.FromSeconds(30));
        string? line = await child.StandardOutput.ReadLineAsync(start.Token).ConfigureAwait(false);
        if (line?.Split(' ') is not ["address", _, "capacity", _, "limit", _] words)
        {
            await child.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            throw new InvalidOperationException($"The service child did not start (exit {child.ExitCode}, first line '{line}'): {(await stderr.ConfigureAwait(false)).Trim()}");
        }

        return words;
    }

    /// <summary>One client: uploads until <paramref name="load"/> ends or the server is gone; a 503 waits <see cref="RetryPause"/>.</summary>
    private static async Task ClientAsync(HttpClient client, byte[] body, Process child, PolicyRun run, LoadOutcome outcome, CancellationToken load, CancellationToken cancellationToken)
    {
        bool answered = false;
        while (!load.IsCancellationRequested && !child.HasExited)
        {
            long started = Stopwatch.GetTimestamp();
            try
            {
                using var content = new ByteArrayContent(body);
                using var request = new HttpRequestMessage(HttpMethod.Post, "/upload") { Content = content };
                request.Headers.ExpectContinue = true;
                using HttpResponseMessage response = await client.SendAsync(request, load).ConfigureAwait(false);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    run.Completed(started);
                    outcome.Count(ref outcome.Ok, ref answered);
                }
                else if (response.StatusCode == HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter is not null)
                {
                    outcome.Count(ref outcome.Rejected, ref answered);
                    await Task.Delay(RetryPause, load).ConfigureAwait(false);
                }
                else
                {
                    outcome.Count(ref outcome.Failed, ref answered); // a 500 (OutOfMemoryException in a handler) or anything else
                }
            }
            catch (OperationCanceledException) when (load.IsCancellationRequested)
            {
                cancellationToken.ThrowIfCancellationRequested(); // the run's end; the load's end is not a failure
                return;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
            {
                outcome.Count(ref outcome.Failed, ref answered); // the connection was reset, the server died, or the 20 s timeout passed
            }
        }
    }

    /// <summary>Asks a live server to stop and waits for it; one that does not stop in time is killed (exit code -1 then).</summary>
    private static async Task StopAsync(HttpClient client, Process child, CancellationToken cancellationToken)
    {
        if (!child.HasExited)
        {
            try
            {
                using HttpResponseMessage stopped = await client.PostAsync(new Uri("/stop", UriKind.Relative), null, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // died meanwhile: its exit code says how
            }
        }

        using var exit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        exit.CancelAfter(TimeSpan.FromSeconds(15));
        try
        {
            await child.WaitForExitAsync(exit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            child.Kill(entireProcessTree: true);
            await child.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The clients' tally: answered 200, answered 503 with Retry-After, failed (another status, a reset, a dead server).</summary>
    private sealed class LoadOutcome
    {
        public long Ok;
        public long Rejected;
        public long Failed;

        /// <summary>Clients that have had at least one answer (of any kind): the load does not end before all have.</summary>
        public int Answered;

        /// <summary>Counts one answer in <paramref name="tally"/>, and the client in <see cref="Answered"/> at its first.</summary>
        public void Count(ref long tally, ref bool answered)
        {
            Interlocked.Increment(ref tally);
            if (!answered)
            {
                answered = true;
                Interlocked.Increment(ref Answered);
            }
        }
    }
}
