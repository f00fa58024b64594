using System.Diagnostics.Tracing;

namespace Headroom.Diagnostics;

/// <summary>
/// Headroom's high-volume trace, for <c>dotnet-trace</c>, PerfView or an in-process <see cref="EventListener"/>:
/// the source "Headroom". Every hook checks <see cref="EventSource.IsEnabled(EventLevel, EventKeywords)"/> before it
/// reads or formats anything, so a disabled source costs one read per hook, and no hook sits on a charge's fast path.
/// </summary>
/// <remarks>
/// The ids, names and payload order are stable; a new field goes at the end of its event, a new event takes a new id.
/// <list type="table">
/// <listheader><term>id, name (keyword, level)</term><description>payload</description></listheader>
/// <item><term>1 WaitBegun (Waits, Informational)</term><description>Budget, Bytes, Mode, Site, Consumer: a charge or a reservation queued.</description></item>
/// <item><term>2 WaitEnded (Waits, Informational)</term><description>Budget, Bytes, Mode, Site, DurationSeconds, Outcome (granted, cancelled, failed).</description></item>
/// <item><term>3 Reclaimed (Reclaim, Informational)</term><description>Budget, Reclaimer (its type), Domain, Asked, Freed: one reclaimer call, with what it really uncharged.</description></item>
/// <item><term>4 OomKill (Oom, Warning)</term><description>Budget (out of memory), Victim, VictimBudget, Charged (the victim's bytes when chosen), RequestedBytes.</description></item>
/// <item><term>5 StockDrained (Stocks, Verbose)</term><description>Budget, Bytes: a per-thread stock given back before a slow path decides.</description></item>
/// </list>
/// Modes are written as the metrics write them: no_wait, may_fail, retry_may_fail, no_fail. A missing site or consumer is an empty string.
/// </remarks>
[EventSource(Name = SourceName)]
internal sealed class HeadroomEventSource : EventSource
{
    internal const string SourceName = "Headroom";

    private HeadroomEventSource()
    {
    }

    internal static HeadroomEventSource Log { get; } = new();

    /// <summary>Gets whether waits are traced now.</summary>
    internal bool TracesWaits => IsEnabled(EventLevel.Informational, Keywords.Waits);

    /// <summary>Gets whether reclaimer calls are traced now.</summary>
    internal bool TracesReclaim => IsEnabled(EventLevel.Informational, Keywords.Reclaim);

    /// <summary>Gets whether kills are traced now.</summary>
    internal bool TracesOom => IsEnabled(EventLevel.Warning, Keywords.Oom);

    /// <summary>Gets whether stock drains are traced now.</summary>
    internal bool TracesStocks => IsEnabled(EventLevel.Verbose, Keywords.Stocks);

    [Event(1, Level = EventLevel.Informational, Keywords = Keywords.Waits, Message = "Wait begun at budget '{0}': {1} bytes, mode {2}, site '{3}', consumer '{4}'")]
    public unsafe void WaitBegun(string budget, long bytes, string mode, string site, string consumer)
    {
        fixed (char* b = budget, m = mode, s = site, c = consumer)
        {
            EventData* data = stackalloc EventData[5];
            SetString(data, b, budget);
            Set(data + 1, &bytes, sizeof(long));
            SetString(data + 2, m, mode);
            SetString(data + 3, s, site);
            SetString(data + 4, c, consumer);
            WriteEventCore(1, 5, data);
        }
    }

    [Event(2, Level = EventLevel.Informational, Keywords = Keywords.Waits, Message = "Wait ended at budget '{0}': {1} bytes, mode {2}, site '{3}', after {4} s, {5}")]
    public unsafe void WaitEnded(string budget, long bytes, string mode, string site, double durationSeconds, string outcome)
    {
        fixed (char* b = budget, m = mode, s = site, o = outcome)
        {
            EventData* data = stackalloc EventData[6];
            SetString(data, b, budget);
            Set(data + 1, &bytes, sizeof(long));
            SetString(data + 2, m, mode);
            SetString(data + 3, s, site);
            Set(data + 4, &durationSeconds, sizeof(double));
            SetString(data + 5, o, outcome);
            WriteEventCore(2, 6, data);
        }
    }

    [Event(3, Level = EventLevel.Informational, Keywords = Keywords.Reclaim, Message = "Reclaimer {1} (domain '{2}') of budget '{0}' asked for {3} bytes, uncharged {4}")]
    public unsafe void Reclaimed(string budget, string reclaimer, string domain, long asked, long freed)
    {
        fixed (char* b = budget, r = reclaimer, d = domain)
        {
            EventData* data = stackalloc EventData[5];
            SetString(data, b, budget);
            SetString(data + 1, r, reclaimer);
            SetString(data + 2, d, domain);
            Set(data + 3, &asked, sizeof(long));
            Set(data + 4, &freed, sizeof(long));
            WriteEventCore(3, 5, data);
        }
    }

    [Event(4, Level = EventLevel.Warning, Keywords = Keywords.Oom, Message = "Budget '{0}' out of memory for {4} bytes: killed consumer '{1}' of budget '{2}', holding {3} bytes")]
    public unsafe void OomKill(string budget, string victim, string victimBudget, long charged, long requestedBytes)
    {
        fixed (char* b = budget, v = victim, vb = victimBudget)
        {
            EventData* data = stackalloc EventData[5];
            SetString(data, b, budget);
            SetString(data + 1, v, victim);
            SetString(data + 2, vb, victimBudget);
            Set(data + 3, &charged, sizeof(long));
            Set(data + 4, &requestedBytes, sizeof(long));
            WriteEventCore(4, 5, data);
        }
    }

    [Event(5, Level = EventLevel.Verbose, Keywords = Keywords.Stocks, Message = "Stock of budget '{0}' drained: {1} bytes")]
    public unsafe void StockDrained(string budget, long bytes)
    {
        fixed (char* b = budget)
        {
            EventData* data = stackalloc EventData[2];
            SetString(data, b, budget);
            Set(data + 1, &bytes, sizeof(long));
            WriteEventCore(5, 2, data);
        }
    }

    private static unsafe void SetString(EventData* data, char* chars, string value) => Set(data, chars, (value.Length + 1) * sizeof(char));

    private static unsafe void Set(EventData* data, void* value, int size)
    {
        data->DataPointer = (nint)value;
        data->Size = size;
    }

    /// <summary>The keywords a session enables to choose what it traces.</summary>
    public static class Keywords
    {
        /// <summary>Waits begun and ended.</summary>
        public const EventKeywords Waits = (EventKeywords)1;

        /// <summary>Reclaimer calls.</summary>
        public const EventKeywords Reclaim = (EventKeywords)2;

        /// <summary>OOM kills.</summary>
        public const EventKeywords Oom = (EventKeywords)4;

        /// <summary>Stock drains.</summary>
        public const EventKeywords Stocks = (EventKeywords)8;
    }
}
