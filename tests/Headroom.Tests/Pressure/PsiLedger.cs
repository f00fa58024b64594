namespace Headroom.Tests.Pressure;

/// <summary>
/// The test's own account of a stall: the intervals in which the test knows something was stalled (it parked the
/// waiters and granted them), and what psi makes of them. Written from the definition in psi.c, period by period over
/// the whole timeline (no shortcuts), so that it checks the library's lazy, skipping computation rather than repeats it.
/// </summary>
internal sealed class PsiLedger
{
    private static readonly long Period = TimeSpan.FromSeconds(2).Ticks;
    private static readonly ulong[] Decay = [1677, 1981, 2034];
    private readonly List<(long Start, long End)> _stalls = [];

    /// <summary>Something was stalled from <paramref name="start"/> to <paramref name="end"/> (since the budget was made).</summary>
    public void Stalled(TimeSpan start, TimeSpan end) => _stalls.Add((start.Ticks, end.Ticks));

    /// <summary>Copies the stalls so far into <paramref name="other"/>.</summary>
    public void CopyTo(PsiLedger other) => other._stalls.AddRange(_stalls);

    /// <summary>The share psi reports at <paramref name="now"/>: averages as of the last 2-s boundary, total up to now.</summary>
    public StallShare At(TimeSpan now)
    {
        List<(long Start, long End)> union = Union();
        var averages = new ulong[3];
        for (long start = 0; start + Period <= now.Ticks; start += Period)
        {
            long stalled = Overlap(union, start, start + Period);
            ulong active = (ulong)(stalled * 100 / Period) * 2048;
            for (int i = 0; i < 3; i++)
            {
                ulong load = averages[i];
                ulong next = (load * Decay[i]) + (active * (2048 - Decay[i]));
                averages[i] = (active >= load ? next + 2047 : next) / 2048;
            }
        }

        return new StallShare(Shown(averages[0]), Shown(averages[1]), Shown(averages[2]), Overlap(union, 0, now.Ticks) / 10);
    }

    /// <summary>LOAD_INT.LOAD_FRAC, as /proc/pressure prints it.</summary>
    private static double Shown(ulong average) => (average >> 11) + ((((average & 2047) * 100) >> 11) / 100.0);

    private static long Overlap(List<(long Start, long End)> union, long from, long to) =>
        union.Sum(s => Math.Max(0, Math.Min(s.End, to) - Math.Max(s.Start, from)));

    private List<(long Start, long End)> Union()
    {
        var merged = new List<(long Start, long End)>();
        foreach ((long start, long end) in _stalls.OrderBy(s => s.Start))
        {
            if (merged.Count > 0 && start <= merged[^1].End)
            {
                merged[^1] = (merged[^1].Start, Math.Max(merged[^1].End, end));
            }
            else
            {
                merged.Add((start, end));
            }
        }

        return merged;
    }
}
