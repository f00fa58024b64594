namespace Headroom.Benchmarks;

/// <summary>Quick mode's cases; add a comparison by adding an entry (and, for a new operation, a loop in <see cref="Loops"/>).</summary>
internal static class QuickCases
{
    private const long GiB = 1L << 30; // large enough that a charge is never refused
    private const long FourKiB = 4096;
    private const string CheckedCas = "checked-cas add+sub";

    public static IReadOnlyList<QuickCase> All { get; } =
    [
        new("try-charge+uncharge 4KiB", 1, CheckedCas, ChargeUncharge4KiB, CasAddSub4KiB),
        new("try-charge+uncharge 4KiB", 2, CheckedCas, ChargeUncharge4KiB, CasAddSub4KiB),
    ];

    private static RoundBody ChargeUncharge4KiB()
    {
        var budget = new MemoryBudget(GiB);
        return n => Loops.TryChargeUncharge(budget, FourKiB, n);
    }

    private static RoundBody CasAddSub4KiB()
    {
        var counter = new CheckedCasCounter(GiB);
        return n => Loops.CheckedCasAddSub(counter, FourKiB, n);
    }
}
