namespace Headroom.Accounting;

/// <summary>The three free-memory levels of a budget, derived with Linux's <c>__setup_per_zone_wmarks</c> formula.</summary>
internal readonly record struct Watermarks(long Min, long Low, long High)
{
    private const long KiB = 1024;

    internal static Watermarks Derive(string kind, long capacity, long? min, long? low, long? high, int scaleFactor)
    {
        long m = min ?? DefaultMin(capacity);
        // Linux: tmp = max(min / 4, managed × scale / 10000); low = min + tmp; high = min + 2 × tmp.
        long step = Math.Max(m / 4, (long)((Int128)capacity * scaleFactor / 10_000));
        long l = low ?? Math.Min(m + step, capacity);
        long h = high ?? Math.Min(m + (2 * step), capacity);

        Check(nameof(BudgetLevelOptions.MinWatermark), m, 0, capacity, "between 0 and the capacity");
        Check(nameof(BudgetLevelOptions.LowWatermark), l, m, capacity, $"between the min watermark ({m}) and the capacity");
        Check(nameof(BudgetLevelOptions.HighWatermark), h, l, capacity, $"between the low watermark ({l}) and the capacity");
        return new Watermarks(m, l, h);

        void Check(string name, long value, long lowest, long highest, string rule)
        {
            if (value < lowest || value > highest)
            {
                throw new ArgumentOutOfRangeException(name, value,
                    $"{kind}.{name} must be {rule} ({capacity} bytes); it was {value}.");
            }
        }
    }

    /// <summary>Linux's <c>min_free_kbytes</c> default, √(16 × KiB), clamped to [128 KiB, 256 MiB] and to capacity / 16.</summary>
    internal static long DefaultMin(long capacity)
    {
        long kib = (long)Math.Sqrt(16.0 * (capacity / KiB));
        long linux = Math.Clamp(kib, 128, 256 * KiB) * KiB;
        return Math.Min(linux, capacity / 16);
    }
}
