using Microsoft.Extensions.Logging;

namespace Headroom.Diagnostics;

/// <summary>The messages of pressure stall information.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 50, EventName = "PressureCallbackFailed", Level = LogLevel.Error,
        Message = "A {Kind} pressure trigger's callback on budget '{Budget}' threw; the trigger stays registered")]
    internal static partial void PressureCallbackFailed(ILogger logger, Exception exception, string budget, StallKind kind);

    /// <summary><see cref="PressureCallbackFailed"/> on the poll timer, whose thread must not be ended by a logger that throws.</summary>
    internal static void PressureCallbackFailedNoThrow(ILogger logger, Exception exception, string budget, StallKind kind)
    {
        try
        {
            PressureCallbackFailed(logger, exception, budget, kind);
        }
        catch (Exception)
        {
            // Swallowed on purpose: there is nobody left to tell.
        }
    }
}
