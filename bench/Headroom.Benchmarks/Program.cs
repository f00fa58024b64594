using BenchmarkDotNet.Running;
using Headroom.Benchmarks;

// --quick: seconds-long interleaved comparison (see QuickBench); anything else goes to BenchmarkDotNet unchanged.
if (args.Contains("--quick"))
{
    string[] unknown = [.. args.Where(a => a is not ("--quick" or "--json"))];
    if (unknown.Length > 0)
    {
        Console.Error.WriteLine($"Quick mode takes only --json; unknown: {string.Join(' ', unknown)}");
        return 2;
    }

    IReadOnlyList<QuickResult> results = QuickBench.Run(QuickCases.All);
    Console.WriteLine(args.Contains("--json") ? QuickReport.ToJson(results) : QuickReport.ToTable(results));
    return 0;
}

var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return summaries.Any(s => s.HasCriticalValidationErrors) ? 1 : 0;
