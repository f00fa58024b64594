using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Headroom.Lab;

if (Headroom.Lab.Scenarios.Container.ContainerChild.Requested() is { } child)
{
    return child.Run(); // the container scenario's child: the same executable, inside a memory group
}

if (Headroom.Lab.Scenarios.Service.ServiceChild.Requested() is { } service)
{
    return await service.RunAsync().ConfigureAwait(false); // the service scenario's Kestrel server, inside a memory group
}

var scenario = new Option<string[]>("--scenario") { Description = "Run only this scenario (repeatable).", Arity = ArgumentArity.ZeroOrMore, HelpName = "NAME" };
var policy = new Option<string[]>("--policy") { Description = "Run only this policy (repeatable).", Arity = ArgumentArity.ZeroOrMore, HelpName = "NAME" };
var size = new Option<double>("--size") { Description = "Scale of the work: 1 is the default run (every scenario in about two minutes).", DefaultValueFactory = _ => 1.0 };
var duration = new Option<TimeSpan>("--duration")
{
    Description = "Longest run of one (variant, policy): seconds (3, 2.5s), milliseconds (500ms) or hh:mm:ss.",
    DefaultValueFactory = _ => LabCommand.DefaultDuration,
    CustomParser = result => LabCommand.ParseDuration(result),
    HelpName = "TIME",
};
var threads = new Option<int>("--threads") { Description = "Worker threads per scenario.", DefaultValueFactory = _ => LabCommand.DefaultThreads };
var capacity = new Option<long?>("--capacity") { Description = "Budget capacity in bytes (suffixes K, M, G allowed); default: each scenario's own.", CustomParser = result => LabCommand.ParseBytes(result), HelpName = "BYTES" };
var seed = new Option<int>("--seed") { Description = "Seed of every policy's workload.", DefaultValueFactory = _ => 42, HelpName = "N" };
var repeat = new Option<int>("--repeat") { Description = "Run each policy N times; the table merges them.", DefaultValueFactory = _ => 1, HelpName = "N" };
var output = new Option<string>("--out") { Description = "Report folder (report.md, charts, results.json).", DefaultValueFactory = _ => "lab-results", HelpName = "DIR" };
var json = new Option<string?>("--json") { Description = "Also write results.json here.", HelpName = "PATH" };
var quiet = new Option<bool>("--quiet") { Description = "No live display (for scripts and CI)." };

size.Validators.Add(r => { if (r.GetValueOrDefault<double>() is <= 0 or > 100) { r.AddError("--size must be above 0 and at most 100."); } });
threads.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 1 or > 256) { r.AddError("--threads must be between 1 and 256."); } });
repeat.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 1 or > 100) { r.AddError("--repeat must be between 1 and 100."); } });

var root = new RootCommand("Headroom lab: replays the LWN 2015 article's memory-management scenarios with real threads and real memory, policy against policy.")
{
    scenario, policy, size, duration, threads, capacity, seed, repeat, output, json, quiet,
};

root.SetAction((parse, cancellationToken) => LabCommand.RunAsync(
    new LabCommand.Arguments(
        parse.GetValue(scenario) ?? [],
        parse.GetValue(policy) ?? [],
        parse.GetValue(size),
        parse.GetValue(duration),
        parse.GetValue(threads),
        parse.GetValue(capacity),
        parse.GetValue(seed),
        parse.GetValue(repeat),
        parse.GetValue(output) ?? "lab-results",
        parse.GetValue(json),
        parse.GetValue(quiet)),
    Console.Out,
    cancellationToken));

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
