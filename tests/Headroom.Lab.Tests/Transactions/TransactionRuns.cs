using System.Collections.Concurrent;
using Headroom.Lab.Running;
using Headroom.Lab.Scenarios.Transactions;

namespace Headroom.Lab.Tests.Transactions;

/// <summary>
/// Every policy of the transactions scenario at both memory levels, run once at a small size (0.7 s each, three
/// workers) and shared by the tests that read the results: about twenty seconds for the lot.
/// </summary>
public sealed class TransactionRuns : IAsyncLifetime
{
    /// <summary>The scenario's tests run one at a time: their workers would otherwise compete for two cores and the thread pool.</summary>
    public const string Collection = "transactions scenario";

    internal static readonly LabSettings Settings = new(Size: 1.0, Duration: TimeSpan.FromMilliseconds(700), Threads: 3, Capacity: null, Seed: 7);

    private readonly ConcurrentDictionary<(string Variant, string Policy, int Worker), List<TransactionShape>> _shapes = new();

    internal TransactionsScenario Scenario { get; }

    internal Dictionary<(string Variant, string Policy), PolicyRun> Runs { get; } = [];

    /// <summary>Workers the scenario reported running right after each run returned.</summary>
    internal Dictionary<(string Variant, string Policy), int> LiveWorkersAfter { get; } = [];

    /// <summary>The page-cache files of this fixture's runs still on disk after they ended.</summary>
    internal List<string> LeftoverFiles { get; } = [];

    public TransactionRuns() =>
        Scenario = new TransactionsScenario((run, worker, shape) =>
            _shapes.GetOrAdd((run.Variant!, run.Policy, worker), _ => []).Add(shape), // one worker per list
            warmUp: false);

    /// <summary>The transactions a worker began under a policy, in order.</summary>
    internal IReadOnlyList<TransactionShape> Shapes(string variant, string policy, int worker) =>
        _shapes.TryGetValue((variant, policy, worker), out List<TransactionShape>? shapes) ? shapes : [];

    public async Task InitializeAsync()
    {
        var before = new HashSet<string>(CacheFiles(), StringComparer.Ordinal);
        foreach (string variant in Scenario.Variants)
        {
            foreach (string policy in Scenario.Policies)
            {
                var run = new PolicyRun(Scenario.Name, variant, policy, Settings);
                await Scenario.RunAsync(run, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
                Runs[(variant, policy)] = run;
                LiveWorkersAfter[(variant, policy)] = Scenario.LiveWorkers;
            }
        }

        LeftoverFiles.AddRange(CacheFiles().Where(f => !before.Contains(f)));
    }

    public Task DisposeAsync() => Task.CompletedTask;

    internal static string[] CacheFiles() => Directory.GetFiles(Path.GetTempPath(), "headroom-lab-transactions-*");
}

/// <summary>Declares the collection, so that its tests never run beside each other.</summary>
[CollectionDefinition(TransactionRuns.Collection, DisableParallelization = true)]
public sealed class TransactionsOneAtATime;
