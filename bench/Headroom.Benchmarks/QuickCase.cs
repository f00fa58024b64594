namespace Headroom.Benchmarks;

/// <summary>Runs <paramref name="iterations"/> ops per calling thread; returns how many succeeded.</summary>
internal delegate long RoundBody(long iterations);

/// <summary>
/// One quick-mode comparison. The factories build fresh state per case (a budget, a counter) and return the body
/// every thread of the case runs against that same state.
/// </summary>
internal sealed record QuickCase(string Name, int Threads, string Baseline, Func<RoundBody> CreateCase, Func<RoundBody> CreateBaseline);
