using System.Text.Json.Serialization;

namespace Headroom.Lab.Results;

/// <summary>results.json (schema version 1): the shape scripts read. Fields may be added; none renamed.</summary>
internal sealed class LabResults
{
    public int SchemaVersion { get; init; } = 1;

    public int Seed { get; init; }

    public required MachineInfo Machine { get; init; }

    public required List<ScenarioResult> Scenarios { get; init; }

    public List<ClaimResult> Claims { get; set; } = [];

    // ---- additions ----

    public DateTimeOffset StartedAt { get; init; }

    public double WallSeconds { get; set; }

    public required RunSettings Settings { get; init; }
}

internal sealed record MachineInfo(int Cores, string Os, string Runtime);

internal sealed record RunSettings(double Size, double DurationSeconds, int Threads, long? Capacity, int Repeat);

internal sealed class ScenarioResult
{
    public required string Name { get; init; }

    /// <summary>The variant, or "default" for a scenario with one shape.</summary>
    public required string Variant { get; init; }

    /// <summary>Every policy's run ended (by itself, or unwound after a stall) and left no thread behind.</summary>
    public bool Completed { get; init; }

    public required List<PolicyResult> Policies { get; init; }

    // ---- additions ----

    public string Title { get; init; } = string.Empty;

    /// <summary>Why the scenario could not run on this machine (no cgroup, not root); null when it ran.</summary>
    public string? NotRunReason { get; init; }
}

internal sealed class PolicyResult
{
    public required string Name { get; init; }

    /// <summary>The policy's work ended by itself: no stall, no deadline, no error, no thread left running.</summary>
    public bool Completed { get; init; }

    /// <summary>The watchdog declared a stall in at least one repeat.</summary>
    public bool Stalled { get; init; }

    public required PolicyMetrics Metrics { get; init; }

    // ---- additions ----

    public Dictionary<string, double> Figures { get; init; } = [];

    public string? StallReport { get; init; }

    public string? Error { get; init; }

    public bool DeadlineReached { get; init; }

    public List<string> ThreadsLeftRunning { get; init; } = [];

    public double ElapsedSeconds { get; init; }

    public int Repeats { get; init; } = 1;

    public long UsedAtEndBytes { get; init; }

    public long ReservedAtEndBytes { get; init; }

    /// <summary>Why the policy could not run on this machine; null when it ran.</summary>
    public string? NotRunReason { get; init; }
}

internal sealed class PolicyMetrics
{
    public long Operations { get; init; }

    public double ThroughputPerSec { get; init; }

    public double LatencyP50Us { get; init; }

    public double LatencyP99Us { get; init; }

    public double LatencyMaxUs { get; init; }

    public long MidTransactionFailures { get; init; }

    public long Rollbacks { get; init; }

    public long Stalls { get; init; }

    public long OomKills { get; init; }

    public long OomKillsNotCause { get; init; }

    public long CanaryWarnings { get; init; }

    public long PeakUsedBytes { get; init; }

    public long ReservedUnusedBytes { get; init; }

    public double CpuNsPerOp { get; init; }
}

internal sealed class ClaimResult
{
    public required string Who { get; init; }

    public required string Claim { get; init; }

    public required Dictionary<string, double> Figures { get; init; }

    /// <summary>"supported", "refuted", "mixed" or "not measured".</summary>
    public required string Verdict { get; init; }

    // ---- additions ----

    /// <summary>The rule the verdict was computed by, in words.</summary>
    public required string Rule { get; init; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(LabResults))]
internal sealed partial class ResultsJsonContext : JsonSerializerContext;
