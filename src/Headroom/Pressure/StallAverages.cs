namespace Headroom.Pressure;

/// <summary>
/// PSI's running averages (kernel/sched/psi.c, <c>calc_avgs</c>, with the load average's <c>calc_load</c>): every 2 s
/// the share of that period spent stalled, in whole percent, is folded into three exponentially decayed averages in
/// 11-bit fixed point, with the kernel's decay factors for 10 s, 60 s and 300 s. The same integers the kernel keeps, so
/// that a figure here reads like one in <c>/proc/pressure/memory</c>.
/// </summary>
internal static class StallAverages
{
    /// <summary>PSI_FREQ: the averages are sampled every 2 s.</summary>
    internal static readonly long Period = 2 * TimeSpan.TicksPerSecond;

    /// <summary>FSHIFT: bits of fraction in the fixed point.</summary>
    private const int FractionBits = 11;

    /// <summary>FIXED_1: 1.0 in the fixed point.</summary>
    private const ulong One = 1UL << FractionBits;

    /// <summary>100 % in the fixed point: the value a fully stalled run of periods converges to.</summary>
    internal const ulong Full = 100 * One;

    /// <summary>EXP_10s, EXP_60s, EXP_300s: 1/exp(2 s / window) in the fixed point.</summary>
    private static readonly ulong[] Decay = [1677, 1981, 2034];

    /// <summary>Folds one period's stall time (<paramref name="stalled"/> of <paramref name="period"/>, both in ticks) into <paramref name="averages"/>.</summary>
    internal static void Sample(ulong[] averages, long stalled, long period)
    {
        ulong percent = (ulong)(Math.Min(stalled, period) * 100 / period) * One; // whole percent, as the kernel divides
        for (int i = 0; i < averages.Length; i++)
        {
            averages[i] = Decayed(averages[i], Decay[i], percent);
        }
    }

    /// <summary>True when one more period of the same sample (none while idle, all while stalled throughout) would change nothing.</summary>
    internal static bool Settled(ulong[] averages, bool stalled)
    {
        ulong target = stalled ? Full : 0;
        foreach (ulong average in averages)
        {
            if (average != target)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A fixed-point average as the kernel prints it: the integer part and two decimals, truncated (LOAD_INT, LOAD_FRAC).</summary>
    internal static double Percent(ulong average) => (average >> FractionBits) + ((((average & (One - 1)) * 100) >> FractionBits) / 100.0);

    /// <summary>calc_load: rounds up while rising, so that a constant sample is reached exactly, and truncates while falling.</summary>
    private static ulong Decayed(ulong load, ulong decay, ulong active)
    {
        ulong next = (load * decay) + (active * (One - decay));
        if (active >= load)
        {
            next += One - 1;
        }

        return next / One;
    }
}
