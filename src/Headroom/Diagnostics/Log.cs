using Microsoft.Extensions.Logging;

namespace Headroom.Diagnostics;

/// <summary>Every log message Headroom writes, generated so that a disabled level costs nothing.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, EventName = "AllocationStall", Level = LogLevel.Warning,
        Message = "Memory allocation stall for {StallMilliseconds} ms: {Bytes} bytes, mode {Mode}, site {Site}, budget '{Budget}' [{State}]; {Stalled} waiter(s) stalled, {Waiting} waiting")]
    internal static partial void AllocationStall(
        ILogger logger, long stallMilliseconds, long bytes, AllocationMode mode, string site, string budget, MemoryBudgetSnapshot state, int stalled, int waiting);
}
