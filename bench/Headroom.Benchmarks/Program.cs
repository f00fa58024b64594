using BenchmarkDotNet.Running;
using Headroom.Benchmarks;

// --quick: seconds-long interleaved comparison (see QuickBench); anything else goes to BenchmarkDotNet unchanged.
// --only TEXT keeps the quick cases whose name contains TEXT (for a before/after check of one path).
if (args.Contains("--quick"))
{
    int only = Array.IndexOf(args, "--only");
    string? filter = only >= 0 && only + 1 < args.Length ? args[only + 1] : null;
    string[] unknown = [.. args.Where((a, i) => a is not ("--quick" or "--json") && !(only >= 0 && (i == only || i == only + 1)))];
    if (unknown.Length > 0 || (only >= 0 && filter is null))
    {
        Console.Error.WriteLine($"Quick mode takes only --json and --only TEXT; unknown: {string.Join(' ', unknown)}");
        return 2;
    }

    IReadOnlyList<QuickResult> results = QuickBench.Run(QuickCases.All.Where(c => filter is null || c.Name.Contains(filter, StringComparison.Ordinal)));
    Console.WriteLine(args.Contains("--json") ? QuickReport.ToJson(results) : QuickReport.ToTable(results));
    return 0;
}

var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return summaries.Any(s => s.HasCriticalValidationErrors) ? 1 : 0;
