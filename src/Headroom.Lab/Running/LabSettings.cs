namespace Headroom.Lab.Running;

/// <summary>The command line's sizing, the same for every policy of a run.</summary>
/// <param name="Size">A scale factor for the amount of work: 1.0 is the default run (every scenario in about two minutes).</param>
/// <param name="Duration">How long each (variant, policy) runs at most; the scenario may end earlier when its work is done.</param>
/// <param name="Threads">Worker threads per scenario.</param>
/// <param name="Capacity">The budget's capacity in bytes, or null for the scenario's own default.</param>
/// <param name="Seed">The seed every policy's workload is drawn from.</param>
internal sealed record LabSettings(double Size, TimeSpan Duration, int Threads, long? Capacity, int Seed);
