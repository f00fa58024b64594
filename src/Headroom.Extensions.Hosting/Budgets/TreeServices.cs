using Microsoft.Extensions.Logging;

namespace Headroom.Extensions.Hosting.Budgets;

/// <summary>What a budget tree takes from the container rather than from configuration: its clock and its logger.</summary>
internal sealed record TreeServices(TimeProvider TimeProvider, ILogger? Logger)
{
    /// <summary>For validation's trial build: the system clock, no logger.</summary>
    internal static TreeServices Trial { get; } = new(TimeProvider.System, null);
}
