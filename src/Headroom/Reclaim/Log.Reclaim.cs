using Microsoft.Extensions.Logging;

namespace Headroom.Diagnostics;

/// <summary>The messages of the reclaim mechanism.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 40, EventName = "BackgroundReclaimFailed", Level = LogLevel.Error,
        Message = "Background reclaim for budget '{Budget}' failed; the level rests and the worker goes on")]
    internal static partial void BackgroundReclaimFailed(ILogger logger, Exception exception, string budget);
}
