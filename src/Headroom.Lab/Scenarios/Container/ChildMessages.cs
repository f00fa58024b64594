using System.Text.Json.Serialization;

namespace Headroom.Lab.Scenarios.Container;

/// <summary>
/// One line of the child's stdout, as JSON: every 10 ms the latencies of the operations completed since the last
/// line (so a child the kernel kills has reported all but its last 10 ms), and at the end its totals.
/// </summary>
internal sealed class ChildProgress
{
    /// <summary>Operations completed so far.</summary>
    public long Operations { get; init; }

    /// <summary>Latencies (ns) of the operations completed since the previous line.</summary>
    public List<long> LatenciesNs { get; init; } = [];

    /// <summary>Set on the last line only: the child ended its work by itself.</summary>
    public bool Done { get; init; }

    /// <summary>headroom: charges refused (MayFail), each answered by giving back the worker's oldest buffer.</summary>
    public long Refusals { get; init; }

    /// <summary>headroom: charges that waited (NoFail with a deadline) because there was no room at once.</summary>
    public long Waits { get; init; }

    /// <summary>headroom: of <see cref="Waits"/>, those whose deadline passed first; the worker then gave back its oldest buffer.</summary>
    public long WaitTimeouts { get; init; }

    /// <summary>headroom: the process budget's capacity (the limit the child found, less the headroom).</summary>
    public long BudgetCapacity { get; init; }

    /// <summary>The limit the child itself found (<see cref="ProcessMemoryLimit.LimitBytes"/>).</summary>
    public long LimitFound { get; init; }

    /// <summary>The most bytes the child's workers held at once.</summary>
    public long PeakHeld { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ChildProgress))]
internal sealed partial class ChildJsonContext : JsonSerializerContext;
