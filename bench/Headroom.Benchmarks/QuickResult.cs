namespace Headroom.Benchmarks;

/// <summary>One quick-mode line; its JSON shape is a contract for scripts, so rename nothing casually.</summary>
/// <param name="NsPerOp">Median wall-clock nanoseconds per op per thread.</param>
/// <param name="Ratio"><paramref name="NsPerOp"/> / <paramref name="BaselineNsPerOp"/>, from unrounded medians.</param>
internal sealed record QuickResult(string Name, int Threads, double NsPerOp, string Baseline, double BaselineNsPerOp, double Ratio);
