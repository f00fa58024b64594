using Microsoft.Extensions.Logging;

namespace Headroom.Diagnostics;

/// <summary>Every log message Headroom writes, generated so that a disabled level costs nothing.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, EventName = "AllocationStall", Level = LogLevel.Warning,
        Message = "Memory allocation stall for {StallMilliseconds} ms: {Bytes} bytes, mode {Mode}, site {Site}, consumer {Consumer}, budget '{Budget}' [{State}]; {Stalled} waiter(s) stalled, {Waiting} waiting")]
    internal static partial void AllocationStall(
        ILogger logger, long stallMilliseconds, long bytes, AllocationMode mode, string site, string consumer, string budget, MemoryBudgetSnapshot state, int stalled, int waiting);

    [LoggerMessage(EventId = 2, EventName = "ReclaimerFailed", Level = LogLevel.Error,
        Message = "Reclaimer of domain '{Domain}' on budget '{Budget}' threw; it is backed off")]
    internal static partial void ReclaimerFailed(ILogger logger, Exception exception, string domain, string budget);

    [LoggerMessage(EventId = 3, EventName = "ReclaimerTimedOut", Level = LogLevel.Warning,
        Message = "Reclaimer of domain '{Domain}' on budget '{Budget}' ran past its timeout of {Timeout} and was abandoned for this pass after freeing {Freed} bytes; it is backed off")]
    internal static partial void ReclaimerTimedOut(ILogger logger, string domain, string budget, TimeSpan timeout, long freed);

    [LoggerMessage(EventId = 4, EventName = "ReclaimerOverclaimed", Level = LogLevel.Warning,
        Message = "Reclaimer of domain '{Domain}' on budget '{Budget}' claimed {Claimed} bytes but uncharged {Freed}; progress counts what it uncharged")]
    internal static partial void ReclaimerOverclaimed(ILogger logger, string domain, string budget, long claimed, long freed);

    [LoggerMessage(EventId = 5, EventName = "OutOfMemory", Level = LogLevel.Error, Message = "{Report}")]
    internal static partial void OutOfMemory(ILogger logger, string report);

    [LoggerMessage(EventId = 6, EventName = "NothingToKill", Level = LogLevel.Warning,
        Message = "Budget '{Budget}' is out of memory for {Bytes} bytes and the OOM killer has no victim: {Reason}; the waiters keep waiting")]
    internal static partial void NothingToKill(ILogger logger, string budget, long bytes, string reason);

    [LoggerMessage(EventId = 7, EventName = "VictimGivenUp", Level = LogLevel.Warning,
        Message = "OOM victim '{Victim}' did not release its memory within {Timeout} and still holds {Charged} bytes; it is given up on and the next may be chosen")]
    internal static partial void VictimGivenUp(ILogger logger, string victim, TimeSpan timeout, long charged);

    [LoggerMessage(EventId = 8, EventName = "KillFailed", Level = LogLevel.Error, Message = "A callback of the OOM killer threw (kill, reaper, selector or report handler; victim '{Victim}'); the killer goes on")]
    internal static partial void KillFailed(ILogger logger, Exception exception, string victim);

    [LoggerMessage(EventId = 9, EventName = "ConsumerEndedHolding", Level = LogLevel.Warning,
        Message = "Consumer '{Consumer}' on budget '{Budget}' was disposed while {Charged} bytes charged on its flows were still charged")]
    internal static partial void ConsumerEndedHolding(ILogger logger, string consumer, string budget, long charged);

    [LoggerMessage(EventId = 10, EventName = "CommittedBelowZero", Level = LogLevel.Error,
        Message = "Committed of budget '{Budget}' fell {Bytes} bytes below zero as a reservation gave its bytes back: an earlier Uncharge took bytes that live reservations held. The budget forgets the difference")]
    internal static partial void CommittedBelowZero(ILogger logger, string budget, long bytes);
}
