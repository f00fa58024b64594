using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Coyote;
using Microsoft.Coyote.Logging;
using Microsoft.Coyote.Specifications;
using Microsoft.Coyote.SystematicTesting;
using Xunit.Abstractions;

namespace Headroom.Coyote.Tests.Concurrency;

/// <summary>
/// One place for running a body under Coyote's systematic testing engine and for the checks every concurrency test
/// shares. Each test is just its body: actors are <see cref="Task.Run(Func{Task})"/> / async lambdas, invariants are
/// <see cref="Specification.Assert(bool, string, object[])"/>, and every body ends by awaiting all of its actors, so that
/// a lost wake-up (a waiter nobody will ever grant) shows up as a deadlock, which Coyote reports by itself.
/// </summary>
/// <remarks>
/// A failing test writes the failing schedule to <c>$TMPDIR/headroom-coyote-&lt;test&gt;.schedule</c>. To replay exactly
/// that schedule (for instance under a debugger), set <c>HEADROOM_COYOTE_REPLAY=1</c> and run the one test again.
/// </remarks>
internal static class CoyoteHarness
{
    /// <summary>Schedules explored per test (at least 1000).</summary>
    internal const uint Iterations = 1000;

    /// <summary>The events of the current schedule, in order (Coyote runs one actor at a time, so no lock is needed).</summary>
    private static readonly List<string> Journal = [];

    /// <summary>Records an event of the current schedule; the failure report lists those of the failing schedule.</summary>
    internal static void Note(string what) => Journal.Add(what);

    /// <summary>
    /// Runs <paramref name="body"/> under <paramref name="iterations"/> different schedules and fails the xunit test with
    /// Coyote's report (bug text, the test's journal of the failing schedule, statistics, and where the schedule was
    /// saved) when any schedule breaks an assertion, throws, or deadlocks.
    /// </summary>
    /// <param name="output">Where the exploration's statistics (and runtime) go.</param>
    /// <param name="body">The test body; it must await every actor it starts.</param>
    /// <param name="iterations">How many schedules to explore.</param>
    /// <param name="maxSteps">The bound on scheduling steps per schedule (memory-access hooks make steps fine-grained).</param>
    /// <param name="detachedWork">
    /// True for bodies whose budgets start tree-wide work (the background reclaim worker, the OOM killer's timer): it is
    /// started through <c>Detached.Start</c>, which calls <see cref="ExecutionContext.IsFlowSuppressed"/> and
    /// <see cref="ExecutionContext.SuppressFlow"/>. Coyote does not intercept those and would report them as a bug; they are
    /// deterministic here (they only choose the worker's starting context), so the check is turned off
    /// (<see cref="Configuration.WithNoBugTraceRepro"/>). Coyote then keeps no replayable schedule: the journal is the record.
    /// </param>
    /// <param name="test">The calling test's name, for the report.</param>
    internal static void Explore(ITestOutputHelper output, Func<Task> body, uint iterations = Iterations, uint maxSteps = 20_000,
        bool detachedWork = false, [CallerMemberName] string test = "")
    {
        string schedulePath = Path.Combine(Path.GetTempPath(), $"headroom-coyote-{test}.schedule");
        // A hunt for a rare schedule: HEADROOM_COYOTE_ITERATIONS raises the count, HEADROOM_COYOTE_SEED fixes the seed.
        if (uint.TryParse(Environment.GetEnvironmentVariable("HEADROOM_COYOTE_ITERATIONS"), NumberStyles.None, CultureInfo.InvariantCulture, out uint more) && more > iterations)
        {
            iterations = more;
        }

        Configuration config = Configuration.Create()
            .WithTestingIterations(iterations)
            .WithMaxSchedulingSteps(maxSteps)
            .WithPartiallyControlledConcurrencyAllowed(false)
            .WithMemoryAccessRaceCheckingEnabled(true)
            .WithTelemetryEnabled(false);
        if (uint.TryParse(Environment.GetEnvironmentVariable("HEADROOM_COYOTE_SEED"), NumberStyles.None, CultureInfo.InvariantCulture, out uint seed))
        {
            config = config.WithRandomGeneratorSeed(seed);
        }

        if (detachedWork)
        {
            config = config.WithNoBugTraceRepro();
        }

        if (Environment.GetEnvironmentVariable("HEADROOM_COYOTE_REPLAY") == "1" && File.Exists(schedulePath))
        {
            config = config.WithReproducibleTrace(File.ReadAllText(schedulePath));
        }

        LockOrder.ControlledScheduling = true; // see there: Coyote's Monitor cannot answer "not held by this thread"
        var watch = Stopwatch.StartNew();
        using TestingEngine engine = TestingEngine.Create(config, async () =>
        {
            Journal.Clear(); // the engine stops at the first bug, so the journal left over is the buggy schedule's
            await body();
        });

        // Coyote's own log goes to memory, not to the console: with console logging the test host hung (made no
        // progress) in the schedules of a blocking Charge under `dotnet test`. Its tail goes into the failure report.
        using var log = new MemoryLogger(VerbosityLevel.Info);
        engine.SetLogger(log);
        engine.Run();
        watch.Stop();

        TestReport report = engine.TestReport;
        string summary = Summarize(test, config, report, watch.Elapsed);
        if (report.NumOfFoundBugs == 0)
        {
            output.WriteLine(summary);
            return;
        }

        var text = new StringBuilder(summary).AppendLine();
        foreach (string bug in report.BugReports)
        {
            text.AppendLine("Bug: " + bug);
        }

        text.AppendLine("What the actors did in the failing schedule (test journal; [name used/capacity qQueued]):");
        foreach (string entry in Journal)
        {
            text.AppendLine("  " + entry);
        }

        if (!string.IsNullOrEmpty(engine.ReproducibleTrace))
        {
            File.WriteAllText(schedulePath, engine.ReproducibleTrace);
            text.AppendLine("Failing schedule saved to " + schedulePath + " (replay: HEADROOM_COYOTE_REPLAY=1).");
        }

        text.AppendLine("Last lines of Coyote's log:");
        foreach (string line in log.ToString().Split('\n').TakeLast(8))
        {
            text.AppendLine(line.TrimEnd());
        }

        output.WriteLine(text.ToString());
        Assert.True(report.NumOfFoundBugs == 0, text.ToString());
    }

    /// <summary><see cref="Explore"/> for bodies whose budgets start tree-wide work.</summary>
    internal static void ExploreDetached(ITestOutputHelper output, Func<Task> body, uint iterations = Iterations, uint maxSteps = 20_000,
        [CallerMemberName] string test = "") => Explore(output, body, iterations, maxSteps, detachedWork: true, test);

    private static string Summarize(string test, Configuration config, TestReport report, TimeSpan elapsed) =>
        $"{test}: {report.NumOfFoundBugs} bug(s) in {report.NumOfExploredFairPaths + report.NumOfExploredUnfairPaths} schedules " +
        $"({config.TestingIterations} asked, seed {config.RandomGeneratorSeed?.ToString(CultureInfo.InvariantCulture) ?? "random"}), steps per schedule max {report.MaxExploredUnfairSteps} unfair / " +
        $"{report.MaxExploredFairSteps} fair, step bound hit {report.MaxUnfairStepsHitInUnfairTests}x, {elapsed.TotalSeconds:F1} s";

    /// <summary>A root budget without the canary (its timer is concurrency Coyote does not control) and with explicit watermarks.</summary>
    internal static MemoryBudget NewBudget(long capacity, long min = 0, long low = 0, long high = 0, string name = "root", TimeProvider? clock = null) =>
        new(new MemoryBudgetOptions
        {
            TimeProvider = clock ?? TimeProvider.System,
            Name = name,
            Capacity = capacity,
            MinWatermark = min,
            LowWatermark = low,
            HighWatermark = high,
            CanaryInterval = Timeout.InfiniteTimeSpan,
        });

    /// <summary>A child with explicit watermarks; it shares the parent's tree, so its canary is off too.</summary>
    internal static MemoryBudget NewChild(MemoryBudget parent, string name, long capacity, long min = 0, long low = 0, long high = 0) =>
        parent.CreateChild(new ChildBudgetOptions
        {
            Name = name,
            Capacity = capacity,
            MinWatermark = min,
            LowWatermark = low,
            HighWatermark = high,
        });

    /// <summary>A compact picture of budgets for the journal: name, used/capacity, reserved if any, and how many wait there.</summary>
    internal static string State(params MemoryBudget[] budgets) => string.Join(" | ", budgets.Select(static b =>
    {
        MemoryBudgetSnapshot s = b.GetSnapshot();
        string reserved = s.Reserved == 0 ? string.Empty : FormattableString.Invariant($" r{s.Reserved}");
        return FormattableString.Invariant($"{s.Name} {s.Used}/{s.Capacity}{reserved} q{b.QueueCount()}");
    }));

    /// <summary>Invariant I1 (semantics §1) at this instant: <c>0 ≤ Used</c>, <c>0 ≤ Reserved</c>, <c>Used + Reserved ≤ Capacity</c>.</summary>
    internal static void CheckI1(params MemoryBudget[] budgets)
    {
        foreach (MemoryBudget budget in budgets)
        {
            MemoryBudgetSnapshot s = budget.GetSnapshot();
            Specification.Assert(s.Used >= 0 && s.Reserved >= 0 && s.Used + s.Reserved <= s.Capacity, "I1 broken: {0}", s);
        }
    }

    /// <summary>Once every actor finished: nothing charged, nothing reserved, nobody queued, at every level given.</summary>
    internal static void CheckDrained(params MemoryBudget[] budgets)
    {
        foreach (MemoryBudget budget in budgets)
        {
            MemoryBudgetSnapshot s = budget.GetSnapshot();
            Specification.Assert(s.Used == 0 && s.Reserved == 0, "Accounting not exact after every actor finished: {0}", s);
            Specification.Assert(budget.QueueCount() == 0, "Budget '{0}' still queues {1} waiter(s) after every actor finished.", budget.Name, budget.QueueCount());
        }

        int byAge = budgets[0].Tree.ByAge.Count;
        Specification.Assert(byAge == 0, "The tree still lists {0} waiter(s) by age after every actor finished.", byAge);
    }

    /// <summary>
    /// Awaits every actor, one after the other. Not <c>Task.WhenAll</c>: its combined task completes from a continuation
    /// of each task it waits for, and a waiter's completion runs its continuations asynchronously, on a thread-pool work
    /// item that Coyote does not schedule. When a waiter was granted after the body began to wait for it, Coyote saw no
    /// controlled operation left to run before that work item ran, and reported a deadlock with every byte accounted and
    /// every waiter completed (issue 10's note: ~1 schedule in 400, once a waiter could be granted by its own visit to the
    /// OOM killer). Awaiting each task itself is a dependency Coyote tracks. (The <c>params ReadOnlySpan&lt;Task&gt;</c>
    /// overload that C# 13 binds <c>Task.WhenAll(a, b)</c> to is not intercepted at all.)
    /// </summary>
    internal static async Task All(params Task[] actors)
    {
        foreach (Task actor in actors)
        {
            await actor;
        }
    }

    /// <summary>Gives other actors a chance to run between the steps of an actor (a controlled scheduling point).</summary>
    internal static YieldAwaitable Pause() => Task.Yield();
}
