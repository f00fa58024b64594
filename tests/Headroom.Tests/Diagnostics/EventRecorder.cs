using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace Headroom.Tests.Diagnostics;

/// <summary>
/// An in-process <see cref="EventListener"/> on the source "Headroom", every keyword at every level, keeping only the
/// events whose first payload (the budget) is one a test names: event sources are process-wide.
/// </summary>
internal sealed class EventRecorder : EventListener
{
    // Field initializers run before the base constructor, which already reports the existing sources.
    private readonly ConcurrentQueue<EventWrittenEventArgs> _events = new();
    private readonly ConcurrentDictionary<string, bool> _budgets = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _arrived = new(0);

    internal EventRecorder(params string[] budgets)
    {
        foreach (string budget in budgets)
        {
            _budgets[budget] = true;
        }
    }

    internal IReadOnlyList<EventWrittenEventArgs> All => [.. _events];

    internal IReadOnlyList<EventWrittenEventArgs> Named(string name) => [.. _events.Where(e => e.EventName == name)];

    /// <summary>Waits until <paramref name="count"/> events of <paramref name="name"/> arrived (a wait's end is written on the thread pool).</summary>
    internal async Task<IReadOnlyList<EventWrittenEventArgs>> WaitFor(string name, int count)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30)); // a liveness bound, not a timing assertion
        while (Named(name).Count < count)
        {
            await _arrived.WaitAsync(bound.Token);
        }

        return Named(name);
    }

    /// <summary>A payload field by its name, as the manifest names it.</summary>
    internal static object? Field(EventWrittenEventArgs e, string name) => e.Payload![e.PayloadNames!.IndexOf(name)];

    public override void Dispose()
    {
        base.Dispose();
        _arrived.Dispose();
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Headroom")
        {
            EnableEvents(eventSource, EventLevel.Verbose, EventKeywords.All);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (eventData.EventSource.Name == "Headroom" && eventData.Payload is [string budget, ..] && _budgets.ContainsKey(budget))
        {
            _events.Enqueue(eventData);
            try
            {
                _arrived.Release();
            }
            catch (ObjectDisposedException)
            {
                // an event on the thread pool after the test ended: nobody waits for it
            }
        }
    }
}
