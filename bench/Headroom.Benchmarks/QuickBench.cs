namespace Headroom.Benchmarks;

/// <summary>
/// Quick mode: each case measured interleaved with its baseline in one process (baseline round, case round, …), so
/// drift in clock speed, thermals or neighbours hits both alike; the medians are compared. A few seconds in all,
/// meant for CI and for quick before/after checks, not for publication (use the BenchmarkDotNet mode for that).
/// </summary>
internal static class QuickBench
{
    private const int WarmupRounds = 3; // pairs, after tiering warm-up and calibration, discarded
    private const int MeasuredRounds = 20; // pairs
    private static readonly TimeSpan RoundTarget = TimeSpan.FromMilliseconds(25);
    private static readonly TimeSpan CalibrationFloor = TimeSpan.FromMilliseconds(5);

    public static IReadOnlyList<QuickResult> Run(IEnumerable<QuickCase> cases) => [.. cases.Select(Measure)];

    private static QuickResult Measure(QuickCase quickCase)
    {
        RoundBody subject = quickCase.CreateCase();
        RoundBody baseline = quickCase.CreateBaseline();
        using var gang = new Gang(quickCase.Threads);

        WarmUp(subject, baseline);
        long subjectIterations = Calibrate(gang, subject);
        long baselineIterations = Calibrate(gang, baseline);

        var subjectNs = new double[MeasuredRounds];
        var baselineNs = new double[MeasuredRounds];
        int lateStarts = 0;
        for (int round = -WarmupRounds; round < MeasuredRounds; round++)
        {
            (double b, bool bLate) = NsPerOp(gang, baseline, baselineIterations, quickCase.Baseline);
            (double s, bool sLate) = NsPerOp(gang, subject, subjectIterations, quickCase.Name);
            if (round >= 0)
            {
                baselineNs[round] = b;
                subjectNs[round] = s;
                lateStarts += (bLate ? 1 : 0) + (sLate ? 1 : 0);
            }
        }

        if (lateStarts > 0)
        {
            // stderr, so --json output stays clean. Medians absorb a few; many mean too few free cores.
            Console.Error.WriteLine($"warning: '{quickCase.Name}' x{quickCase.Threads}: threads started apart by over 1% of the round in {lateStarts} of {2 * MeasuredRounds} rounds.");
        }

        double subjectMedian = Median(subjectNs);
        double baselineMedian = Median(baselineNs);
        return new QuickResult(quickCase.Name, quickCase.Threads, Math.Round(subjectMedian, 2), quickCase.Baseline,
            Math.Round(baselineMedian, 2), Math.Round(subjectMedian / baselineMedian, 3));
    }

    /// <summary>
    /// Gets both bodies (and what they call) to tier-1 code before timing: many short calls, then pauses, because the
    /// runtime promotes a method after 30 calls and only once tier-0 activity has been quiet for ~100 ms. Called on
    /// this thread alone: compiled code is shared by all threads, and gang rounds would pay the start line each time.
    /// </summary>
    private static void WarmUp(RoundBody subject, RoundBody baseline)
    {
        for (int pass = 0; pass < 3; pass++)
        {
            for (int call = 0; call < 40; call++)
            {
                baseline(2_000);
                subject(2_000);
            }

            Thread.Sleep(150);
        }
    }

    /// <summary>
    /// Iterations per thread for one round of about <see cref="RoundTarget"/>. The fastest of a few tries counts: one
    /// preempted try would otherwise shrink every round, and short rounds magnify scheduler noise.
    /// </summary>
    private static long Calibrate(Gang gang, RoundBody body)
    {
        long iterations = 1_000;
        TimeSpan elapsed;
        while ((elapsed = gang.Run(body, iterations).Elapsed) < CalibrationFloor)
        {
            iterations *= 2;
        }

        for (int retry = 0; retry < 3; retry++)
        {
            TimeSpan again = gang.Run(body, iterations).Elapsed;
            elapsed = again < elapsed ? again : elapsed;
        }

        return Math.Max(1, (long)(iterations * (RoundTarget / elapsed)));
    }

    /// <summary>One timed round: ns per op per thread, and whether the threads' starts were noticeably apart.</summary>
    private static (double NsPerOp, bool LateStart) NsPerOp(Gang gang, RoundBody body, long iterations, string name)
    {
        RoundTiming timing = gang.Run(body, iterations);

        // A refused op takes a different (cheaper or dearer) path, so a round with refusals measures something else.
        long expected = iterations * gang.Threads;
        if (timing.Done != expected)
        {
            throw new InvalidOperationException($"'{name}' completed {timing.Done} of {expected} ops in a round; the case is misconfigured.");
        }

        return (timing.Elapsed.TotalNanoseconds / iterations, timing.StartSkew > timing.Elapsed / 100);
    }

    private static double Median(double[] values)
    {
        double[] sorted = [.. values.Order()];
        int middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }
}
