// THROWAWAY (txn branch): a tiny driver for scenario 4 until the lab branch's runner merges.
// Usage: dotnet run -c Release --project src/Headroom.Lab -- [seconds per run] [threads] [policy...]
using System.Globalization;
using Headroom.Lab.Running;
using Headroom.Lab.Scenarios.Transactions;

double seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 2;
int threads = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 4;
string[] only = args.Length > 2 ? args[2..] : [];
var scenario = new TransactionsScenario();
var settings = new LabSettings(1.0, TimeSpan.FromSeconds(seconds), threads, null, 42);
await scenario.WarmUpAsync(settings, CancellationToken.None);
int rounds = Environment.GetEnvironmentVariable("LAB_ROUNDS") is { } r ? int.Parse(r, CultureInfo.InvariantCulture) : 1;
for (int round = 0; round < rounds; round++)
foreach (string variant in scenario.Variants.Where(v => Environment.GetEnvironmentVariable("LAB_VARIANT") is not { } only1 || v == only1))
{
    foreach (string policy in scenario.Policies.Where(p => only.Length == 0 || only.Contains(p)))
    {
        var run = new PolicyRun(scenario.Name, variant, policy, settings) { Logger = new StallCounter(Environment.GetEnvironmentVariable("LAB_LOG") is not null) };
        ((StallCounter)run.Logger).Run = run;
        var cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
        await scenario.RunAsync(run, CancellationToken.None);
        cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpu;
        long[] ticks = run.LatencyTicks();
        Array.Sort(ticks);
        double Us(double q) => ticks.Length == 0 ? 0 : ticks[(int)Math.Min(ticks.Length - 1, q * ticks.Length)] * 1e6 / System.Diagnostics.Stopwatch.Frequency;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{variant,-6} {policy,-22} ops {run.Operations,8} /s {run.Operations / seconds,9:F0} p50 {Us(0.5),8:F0}us p99 {Us(0.99),8:F0}us max {Us(1),9:F0}us midFail {run.MidTransactionFailures,6} rollbacks {run.Rollbacks,6} canary {run.CanaryWarnings,4} unusedMiB {run.ReservedUnusedBytes / 1048576.0,9:F1} cpuUs/op {(run.Operations == 0 ? 0 : cpu.TotalMicroseconds / run.Operations),7:F1} stalled {run.IsStalled}"));
        Console.WriteLine("       " + string.Join(" ", run.Figures.OrderBy(f => f.Key, StringComparer.Ordinal).Where(f => f.Value != 0).Select(f => string.Create(CultureInfo.InvariantCulture, $"{f.Key}={f.Value:G4}"))));
        if (run.StallReport is { } report)
        {
            Console.WriteLine("       STALL: " + report);
        }
    }
}

internal sealed class StallCounter(bool print) : Microsoft.Extensions.Logging.ILogger
{
    public PolicyRun? Run { get; set; }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

    public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (eventId.Name == "AllocationStall")
        {
            Run?.CanaryWarning();
        }

        if (print)
        {
            Console.WriteLine($"  LOG {eventId.Name}: {formatter(state, exception)} {exception?.GetType().Name} {exception?.Message}");
        }
    }
}
