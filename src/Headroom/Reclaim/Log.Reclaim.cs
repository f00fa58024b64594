using Microsoft.Extensions.Logging;

namespace Headroom.Diagnostics;

/// <summary>The messages of the reclaim mechanism.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 40, EventName = "BackgroundReclaimFailed", Level = LogLevel.Error,
        Message = "Background reclaim for budget '{Budget}' failed; the level rests and the worker goes on")]
    internal static partial void BackgroundReclaimFailed(ILogger logger, Exception exception, string budget);

    /// <summary>
    /// <see cref="BackgroundReclaimFailed"/> for the worker's last line of defence: a logger is user code, and one that
    /// throws must not end the worker it reports on (issue 10, item 7). There is nobody left to tell.
    /// </summary>
    internal static void BackgroundReclaimFailedNoThrow(ILogger logger, Exception exception, string budget)
    {
        try
        {
            BackgroundReclaimFailed(logger, exception, budget);
        }
        catch (Exception)
        {
            // Swallowed on purpose: reporting the logger's failure would go through the same logger.
        }
    }
}
