using System.CommandLine.Parsing;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Headroom.Lab.Report;
using Headroom.Lab.Results;
using Headroom.Lab.Running;
using Headroom.Lab.Scenarios;
using Spectre.Console;

namespace Headroom.Lab;

/// <summary>The lab's one command: plan, run with a live display, print the tables, write the report folder.</summary>
internal static class LabCommand
{
    public static readonly TimeSpan DefaultDuration = TimeSpan.FromSeconds(3);

    public static int DefaultThreads => Math.Max(2, Environment.ProcessorCount);

    /// <summary>The command line's values.</summary>
    public sealed record Arguments(
        IReadOnlyList<string> Scenarios,
        IReadOnlyList<string> Policies,
        double Size,
        TimeSpan Duration,
        int Threads,
        long? Capacity,
        int Seed,
        int Repeat,
        string Out,
        string? Json,
        bool Quiet);

    public static async Task<int> RunAsync(Arguments arguments, TextWriter output, CancellationToken cancellationToken)
    {
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        if (!console.Profile.Capabilities.Interactive || console.Profile.Width < 160)
        {
            console.Profile.Width = 200; // the tables have fifteen columns: wrapped at 80 they cannot be read, in a log least of all
        }

        var request = new LabRequest(arguments.Scenarios, arguments.Policies,
            new LabSettings(arguments.Size, arguments.Duration, arguments.Threads, arguments.Capacity, arguments.Seed), arguments.Repeat);
        LabPlan plan = LabSession.Plan(request, ScenarioRegistry.All(), out string? error);
        if (error is not null)
        {
            await Console.Error.WriteLineAsync(error).ConfigureAwait(false);
            return 2;
        }

        DateTimeOffset startedAt = DateTimeOffset.UtcNow;
        long started = Stopwatch.GetTimestamp();
        var live = new LiveState();
        Task<List<ScenarioRun>> running = LabSession.RunAsync(plan, request, live, cancellationToken);
        if (!arguments.Quiet)
        {
            await ShowProgressAsync(console, live, running).ConfigureAwait(false);
        }

        List<ScenarioRun> runs = await running.ConfigureAwait(false);
        var results = new LabResults
        {
            Seed = arguments.Seed,
            Machine = LabSession.Machine(),
            Scenarios = [.. runs.Select(r => r.Result)],
            StartedAt = startedAt,
            Settings = new RunSettings(arguments.Size, arguments.Duration.TotalSeconds, arguments.Threads, arguments.Capacity, arguments.Repeat),
        };
        results.Claims = Claims.Compute(results.Scenarios);
        results.WallSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;

        Directory.CreateDirectory(arguments.Out);
        var charts = new Dictionary<ScenarioRun, List<Chart>>();
        foreach (ScenarioRun run in runs)
        {
            charts[run] = Charts.Write(run, arguments.Out);
        }

        string json = JsonSerializer.Serialize(results, ResultsJsonContext.Default.LabResults);
        await File.WriteAllTextAsync(Path.Combine(arguments.Out, "results.json"), json, cancellationToken).ConfigureAwait(false);
        if (arguments.Json is { } jsonPath)
        {
            if (Path.GetDirectoryName(Path.GetFullPath(jsonPath)) is { } dir)
            {
                Directory.CreateDirectory(dir);
            }

            await File.WriteAllTextAsync(jsonPath, json, cancellationToken).ConfigureAwait(false);
        }

        await File.WriteAllTextAsync(Path.Combine(arguments.Out, "report.md"), ReportWriter.Render(results, runs, charts), cancellationToken).ConfigureAwait(false);

        PrintTables(console, runs, results);
        console.MarkupLineInterpolated($"Wall time {results.WallSeconds:F1} s. Report: {Path.Combine(arguments.Out, "report.md")}");
        return runs.Any(r => r.Result.Policies.Any(p => p.ThreadsLeftRunning.Count > 0)) ? 3 : 0;
    }

    private static async Task ShowProgressAsync(IAnsiConsole console, LiveState live, Task running)
    {
        if (!console.Profile.Capabilities.Interactive)
        {
            // Redirected output: one line per run, no animation.
            PolicyRun? last = null;
            while (!running.IsCompleted)
            {
                if (live.Current is { } now && now != last)
                {
                    last = now;
                    console.WriteLine($"[{live.Done + 1}/{live.Total}] {Label(now)}");
                }

                await Task.WhenAny(running, Task.Delay(100)).ConfigureAwait(false);
            }

            return;
        }

        await console.Status().StartAsync("starting", async context =>
        {
            while (!running.IsCompleted)
            {
                context.Status(live.Current is { } run
                    ? Markup.Escape($"[{live.Done + 1}/{live.Total}] {Label(run)}: {live.Elapsed.TotalSeconds:F1} s, {run.Operations:N0} operations")
                    : "finishing");
                await Task.WhenAny(running, Task.Delay(200)).ConfigureAwait(false);
            }
        }).ConfigureAwait(false);
    }

    private static string Label(PolicyRun run) => $"{run.Scenario}{(run.Variant is null ? string.Empty : $" ({run.Variant})")} / {run.Policy}";

    private static void PrintTables(IAnsiConsole console, IReadOnlyList<ScenarioRun> runs, LabResults results)
    {
        foreach (ScenarioRun run in runs)
        {
            var table = new Table { Title = new TableTitle(Markup.Escape($"{run.Scenario.Title} ({run.Result.Name}{(run.Result.Variant == "default" ? string.Empty : $", {run.Result.Variant}")})")) };
            foreach (string column in ResultCells.Header)
            {
                table.AddColumn(new TableColumn(Markup.Escape(column)));
            }

            foreach (PolicyResult p in run.Result.Policies)
            {
                table.AddRow([.. ResultCells.Cells(p).Select(Markup.Escape)]);
            }

            console.Write(table);
            foreach (PolicyResult p in run.Result.Policies.Where(p => p.Figures.Count > 0))
            {
                console.WriteLine($"  {p.Name}: {ResultCells.Figures(p)}");
            }

            foreach (PolicyResult p in run.Result.Policies.Where(p => p.NotRunReason is not null))
            {
                console.WriteLine($"  {p.Name}: not run here: {p.NotRunReason}");
            }
        }

        var claims = new Table { Title = new TableTitle("What the article claimed, and what we measured") };
        claims.AddColumn("who").AddColumn("claim").AddColumn("verdict");
        foreach (ClaimResult claim in results.Claims)
        {
            claims.AddRow(Markup.Escape(claim.Who), Markup.Escape(claim.Claim), Markup.Escape(claim.Verdict));
        }

        console.Write(claims);
    }

    /// <summary>Parses --duration: seconds ("3", "2.5s"), milliseconds ("500ms"), or a TimeSpan ("00:00:03").</summary>
    public static TimeSpan ParseDuration(ArgumentResult result)
    {
        string text = result.Tokens.Count == 0 ? string.Empty : result.Tokens[0].Value.Trim();
        TimeSpan? value = text.EndsWith("ms", StringComparison.OrdinalIgnoreCase) && double.TryParse(text[..^2], NumberStyles.Float, CultureInfo.InvariantCulture, out double ms) ? TimeSpan.FromMilliseconds(ms)
            : text.EndsWith('s') && double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out double s1) ? TimeSpan.FromSeconds(s1)
            : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double s2) ? TimeSpan.FromSeconds(s2)
            : TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out TimeSpan span) ? span
            : null;
        if (value is not { } v || v <= TimeSpan.Zero || v > TimeSpan.FromHours(1))
        {
            result.AddError($"--duration '{text}' is not a duration between 0 and 1 hour (examples: 3, 2.5s, 500ms, 00:00:03).");
            return DefaultDuration;
        }

        return v;
    }

    /// <summary>Parses --capacity: bytes, with an optional K, M or G suffix (powers of 1024).</summary>
    public static long? ParseBytes(ArgumentResult result)
    {
        string text = result.Tokens.Count == 0 ? string.Empty : result.Tokens[0].Value.Trim();
        long scale = 1;
        string digits = text;
        if (text.Length > 0 && char.ToUpperInvariant(text[^1]) is 'K' or 'M' or 'G' && text.Length > 1)
        {
            scale = char.ToUpperInvariant(text[^1]) switch { 'K' => 1L << 10, 'M' => 1L << 20, _ => 1L << 30 };
            digits = text[..^1];
        }

        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long n) || n <= 0 || n > (1L << 40) / scale)
        {
            result.AddError($"--capacity '{text}' is not a positive number of bytes up to 1 TiB (examples: 67108864, 64M, 1G).");
            return null;
        }

        return n * scale;
    }
}
