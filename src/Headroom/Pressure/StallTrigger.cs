namespace Headroom.Pressure;

/// <summary>
/// One pressure trigger, as psi.c keeps one (<c>struct psi_trigger</c> and its window): the stall time that grew within
/// a sliding window, estimated from the current window's growth plus the previous window's, scaled by the part of the
/// window not yet elapsed (assuming it grew evenly); an event once the estimate reaches the threshold, at most one per
/// window, and a breach found inside the rate limit is kept and signalled when the limit ends. Times are ticks since
/// the budget's origin. Guarded by its <see cref="MemoryPressure"/>'s lock.
/// </summary>
internal sealed class StallTrigger
{
    private long _windowStart;
    private long _windowStartValue;
    private long _previousGrowth;
    private long _lastEvent = long.MinValue;
    private long _lastGrowth;
    private bool _pending;

    internal StallTrigger(StallKind kind, long threshold, long window, Action<PressureEvent> onPressure)
    {
        Kind = kind;
        Threshold = threshold;
        Window = window;
        OnPressure = onPressure;
    }

    internal StallKind Kind { get; }

    internal long Threshold { get; }

    internal long Window { get; }

    internal Action<PressureEvent> OnPressure { get; }

    /// <summary>window_reset: a new window begins at <paramref name="now"/>, when the state's total was <paramref name="total"/>.</summary>
    internal void Reset(long now, long total)
    {
        _windowStart = now;
        _windowStartValue = total;
        _previousGrowth = 0;
    }

    /// <summary>
    /// update_triggers for this trigger at <paramref name="now"/>: the state's <paramref name="total"/>, and whether it
    /// grew since the last poll. Returns the stall time within the window when an event is due, else null.
    /// </summary>
    internal long? Poll(long now, long total, bool grew)
    {
        if (!grew && !_pending)
        {
            return null;
        }

        if (grew)
        {
            _lastGrowth = Grow(now, total);
            if (!_pending)
            {
                if (_lastGrowth < Threshold)
                {
                    return null;
                }

                _pending = true;
            }
        }

        if (_lastEvent != long.MinValue && now < _lastEvent + Window)
        {
            return null; // at most one event per window; the breach stays pending
        }

        _lastEvent = now;
        _pending = false;
        return _lastGrowth;
    }

    /// <summary>window_update: the growth within the window ending now; a window that has run its length starts again.</summary>
    private long Grow(long now, long total)
    {
        long elapsed = now - _windowStart;
        long growth = total - _windowStartValue;
        if (elapsed > Window)
        {
            _windowStart = now;
            _windowStartValue = total;
            _previousGrowth = growth;
            return growth;
        }

        return growth + (long)((Int128)_previousGrowth * (Window - elapsed) / Window);
    }
}
