namespace Headroom;

/// <summary>
/// Linux's <c>oom_badness</c> for one consumer: charged + reserved + adj × capacity / 1000, computed wide and saturated
/// to the range of <see cref="long"/>, so that no capacity or usage can wrap it around and make the worst consumer
/// look harmless.
/// </summary>
internal static class Badness
{
    internal static long Of(long charged, long reserved, int oomScoreAdj, long capacity)
    {
        Int128 badness = (Int128)Math.Max(0, charged) + Math.Max(0, reserved) + ((Int128)oomScoreAdj * capacity / 1000);
        return badness > long.MaxValue ? long.MaxValue : badness < long.MinValue ? long.MinValue : (long)badness;
    }
}
