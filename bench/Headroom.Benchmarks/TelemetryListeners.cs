using System.Diagnostics.Metrics;
using System.Diagnostics.Tracing;

namespace Headroom.Benchmarks;

/// <summary>
/// The two states of Headroom's telemetry that the quick rows compare: nobody listening (the event source "Headroom"
/// disabled, no listener on the meter "Headroom"), and everything on (every instrument and every event enabled).
/// </summary>
internal static class TelemetryListeners
{
    private static MeterListener? s_meters;
    private static Listener? s_events;

    /// <summary>Throws unless nothing listens: the row that claims to measure the quiet path must not measure another.</summary>
    internal static void AssertNoneListening()
    {
        if (s_meters is not null || s_events is not null || EventSource.GetSources().Any(static s => s.Name == "Headroom" && s.IsEnabled()))
        {
            throw new InvalidOperationException("Headroom's telemetry is being listened to; the quiet row would not measure the quiet path.");
        }
    }

    /// <summary>Enables every instrument of the meter "Headroom" and every event of the source "Headroom", for the rest of the process.</summary>
    internal static void ListenToEverything()
    {
        if (s_meters is not null)
        {
            return;
        }

        s_meters = new MeterListener
        {
            InstrumentPublished = static (instrument, listener) =>
            {
                if (instrument.Meter.Name == "Headroom")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        s_meters.SetMeasurementEventCallback<long>(static (_, _, _, _) => { });
        s_meters.SetMeasurementEventCallback<double>(static (_, _, _, _) => { });
        s_meters.Start();
        s_events = new Listener();
    }

    private sealed class Listener : EventListener
    {
        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == "Headroom")
            {
                EnableEvents(eventSource, EventLevel.Verbose, EventKeywords.All);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData)
        {
        }
    }
}
