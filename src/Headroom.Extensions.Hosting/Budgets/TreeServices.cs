using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

namespace Headroom.Extensions.Hosting.Budgets;

/// <summary>What a budget tree takes from the container rather than from configuration: its clock, its logger and the factory of its meter.</summary>
internal sealed record TreeServices(TimeProvider TimeProvider, ILogger? Logger, IMeterFactory? MeterFactory)
{
    /// <summary>For validation's trial build: the system clock, no logger, no meter (a trial tree reports nothing).</summary>
    internal static TreeServices Trial { get; } = new(TimeProvider.System, null, null);
}
