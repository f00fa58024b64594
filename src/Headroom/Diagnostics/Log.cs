using Microsoft.Extensions.Logging;

namespace Headroom.Diagnostics;

/// <summary>Every log message Headroom writes, generated so that a disabled level costs nothing.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, EventName = "AllocationStall", Level = LogLevel.Warning,
        Message = "Memory allocation stall for {StallMilliseconds} ms: {Bytes} bytes, mode {Mode}, site {Site}, budget '{Budget}' [{State}]; {Stalled} waiter(s) stalled, {Waiting} waiting")]
    internal static partial void AllocationStall(
        ILogger logger, long stallMilliseconds, long bytes, AllocationMode mode, string site, string budget, MemoryBudgetSnapshot state, int stalled, int waiting);

    [LoggerMessage(EventId = 2, EventName = "ReclaimerFailed", Level = LogLevel.Error,
        Message = "Reclaimer of domain '{Domain}' on budget '{Budget}' threw; it is backed off")]
    internal static partial void ReclaimerFailed(ILogger logger, Exception exception, string domain, string budget);

    [LoggerMessage(EventId = 3, EventName = "ReclaimerTimedOut", Level = LogLevel.Warning,
        Message = "Reclaimer of domain '{Domain}' on budget '{Budget}' ran past its timeout of {Timeout} and was abandoned for this pass after freeing {Freed} bytes; it is backed off")]
    internal static partial void ReclaimerTimedOut(ILogger logger, string domain, string budget, TimeSpan timeout, long freed);

    [LoggerMessage(EventId = 4, EventName = "ReclaimerOverclaimed", Level = LogLevel.Warning,
        Message = "Reclaimer of domain '{Domain}' on budget '{Budget}' claimed {Claimed} bytes but uncharged {Freed}; progress counts what it uncharged")]
    internal static partial void ReclaimerOverclaimed(ILogger logger, string domain, string budget, long claimed, long freed);
}
