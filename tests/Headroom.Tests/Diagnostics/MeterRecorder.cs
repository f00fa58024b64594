using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Headroom.Tests.Diagnostics;

/// <summary>One measurement as a listener saw it.</summary>
internal sealed record Recorded(Instrument Instrument, double Value, IReadOnlyDictionary<string, object?> Tags)
{
    internal string? Tag(string key) => Tags.TryGetValue(key, out object? value) ? value as string : null;
}

/// <summary>
/// A <see cref="MeterListener"/> on the meter "Headroom" that keeps only the measurements of the budgets a test names:
/// meters are process-wide and test classes run in parallel, so each test filters by budget names of its own.
/// </summary>
internal sealed class MeterRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly HashSet<string> _budgets;
    private readonly ConcurrentQueue<Recorded> _recorded = new();
    private readonly SemaphoreSlim _arrived = new(0);

    internal MeterRecorder(params string[] budgets)
        : this(scope: null, budgets)
    {
    }

    /// <param name="scope">Only instruments of meters made by this factory; null: any meter "Headroom".</param>
    /// <param name="budgets">The budget names to keep.</param>
    internal MeterRecorder(object? scope, params string[] budgets)
    {
        _budgets = [.. budgets];
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Headroom" && (scope is null || instrument.Meter.Scope == scope))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Keep(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Keep(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>Everything kept so far.</summary>
    internal IReadOnlyList<Recorded> All => [.. _recorded];

    /// <summary>The measurements of one instrument, in order.</summary>
    internal IReadOnlyList<Recorded> Of(string instrument) => [.. _recorded.Where(r => r.Instrument.Name == instrument)];

    /// <summary>Reads the observable instruments now and returns only what that reading reported.</summary>
    internal IReadOnlyList<Recorded> Observe()
    {
        int before = _recorded.Count;
        _listener.RecordObservableInstruments();
        return [.. _recorded.Skip(before).Where(r => r.Instrument.IsObservable)];
    }

    /// <summary>Waits until <paramref name="count"/> measurements of <paramref name="instrument"/> arrived (a wait's end is recorded on the thread pool).</summary>
    internal async Task<IReadOnlyList<Recorded>> WaitFor(string instrument, int count)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30)); // a liveness bound, not a timing assertion
        while (Of(instrument).Count < count)
        {
            await _arrived.WaitAsync(bound.Token);
        }

        return Of(instrument);
    }

    public void Dispose()
    {
        _listener.Dispose();
        _arrived.Dispose();
    }

    private void Keep(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var dictionary = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            dictionary[tag.Key] = tag.Value;
        }

        if (dictionary.TryGetValue("headroom.budget.name", out object? name) && name is string budget && _budgets.Contains(budget))
        {
            _recorded.Enqueue(new Recorded(instrument, value, dictionary));
            try
            {
                _arrived.Release();
            }
            catch (ObjectDisposedException)
            {
                // a measurement on the thread pool after the test ended: nobody waits for it
            }
        }
    }
}
