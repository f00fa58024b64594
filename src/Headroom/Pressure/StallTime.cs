namespace Headroom.Pressure;

/// <summary>
/// The stall time of one PSI state ("some" or "full") of one budget: the running total, and the three averages as psi.c
/// would hold them had its averaging worker run exactly every 2 s since the budget was made. The periods are closed
/// lazily, on the next change or read, from the stall intervals, so an idle budget costs nothing. Times are ticks
/// (100 ns) since the budget's origin. Guarded by its <see cref="MemoryPressure"/>'s lock.
/// </summary>
internal sealed class StallTime
{
    private readonly ulong[] _averages = new ulong[3];
    private long _periodStart;
    private long _totalAtPeriodStart;
    private long _total;
    private long _stalledSince = -1;
    private long _latest;

    internal bool IsStalled => _stalledSince >= 0;

    /// <summary>The stall time up to <paramref name="now"/>, the stall in progress included (the kernel's total does the same).</summary>
    internal long Total(long now) => _total + (IsStalled ? Math.Max(now - _stalledSince, 0) : 0);

    /// <summary>The state begins (<paramref name="stalled"/>) or ends at <paramref name="now"/>; the same state again is no change.</summary>
    internal void Set(long now, bool stalled)
    {
        now = Latest(now);
        Advance(now);
        if (stalled == IsStalled)
        {
            return;
        }

        if (stalled)
        {
            _stalledSince = now;
        }
        else
        {
            _total += Math.Max(now - _stalledSince, 0);
            _stalledSince = -1;
        }
    }

    /// <summary>The averages as of the last 2-s boundary before <paramref name="now"/> and the total up to it.</summary>
    internal StallShare Read(long now)
    {
        now = Latest(now);
        Advance(now);
        return new StallShare(
            StallAverages.Percent(_averages[0]),
            StallAverages.Percent(_averages[1]),
            StallAverages.Percent(_averages[2]),
            Total(now) / (TimeSpan.TicksPerMillisecond / 1000));
    }

    /// <summary>Time never runs back here: a reader's clock may have been read after a change's, and taken this lock first.</summary>
    private long Latest(long now) => _latest = Math.Max(_latest, now);

    /// <summary>
    /// Closes every period that ended by <paramref name="now"/>. Changes are made only through <see cref="Set"/>, which
    /// closes periods first, so every change lies in the open period: after one period is closed, each later one is
    /// either idle throughout or stalled throughout, and once the averages stop moving the rest are skipped at once.
    /// </summary>
    private void Advance(long now)
    {
        long period = StallAverages.Period;
        while (now - _periodStart >= period)
        {
            long boundary = _periodStart + period;
            long total = Total(boundary);
            StallAverages.Sample(_averages, total - _totalAtPeriodStart, period);
            _periodStart = boundary;
            _totalAtPeriodStart = total;
            if (StallAverages.Settled(_averages, IsStalled))
            {
                _periodStart += (now - _periodStart) / period * period;
                _totalAtPeriodStart = Total(_periodStart);
            }
        }
    }
}
