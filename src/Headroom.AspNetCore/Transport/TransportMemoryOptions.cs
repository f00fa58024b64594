namespace Headroom.AspNetCore;

/// <summary>
/// How Kestrel's transports rent their socket buffers from a budget (<see cref="BudgetMemoryPoolFactory"/>).
/// Kestrel rents on its I/O threads, which must never block, so a rent is either drawn from a reservation made once
/// at start (granted at once, guarantee G1) or, above it, fails fast and Kestrel closes that one connection.
/// </summary>
public sealed class TransportMemoryOptions
{
    /// <summary>
    /// Gets or sets the budget the buffers are charged to; when <see langword="null"/>, the <see cref="MemoryBudget"/>
    /// registered in the service provider.
    /// </summary>
    public MemoryBudget? Budget { get; set; }

    /// <summary>
    /// Gets or sets the bytes reserved for the transports when the first pool is created. When <see langword="null"/>
    /// (the default) it is sized from Kestrel's own limits: <c>MaxConcurrentConnections</c> × (the larger of the
    /// transport's <c>MaxReadBufferSize</c> and <c>MaxRequestBufferSize</c> + the larger of <c>MaxWriteBufferSize</c>
    /// and <c>MaxResponseBufferSize</c> + one 4 KiB segment each way), which requires Kestrel's connection limit to be
    /// set. 0 reserves nothing: every rent is then an ordinary charge in <see cref="OverflowMode"/>.
    /// </summary>
    public long? ReservedBytes { get; set; }

    /// <summary>
    /// Gets or sets what a rent does beyond the reservation: <see cref="AllocationMode.NoWait"/> (the default: fails at
    /// once) or <see cref="AllocationMode.MayFail"/> (one direct-reclaim pass, then fails). The blocking modes are refused,
    /// since they would stall an I/O thread and every connection on it.
    /// </summary>
    public AllocationMode OverflowMode { get; set; } = AllocationMode.NoWait;

    /// <summary>Throws for a value that breaks its rule, naming it; called before anything is reserved.</summary>
    internal void Validate()
    {
        if (ReservedBytes is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ReservedBytes), ReservedBytes, $"{nameof(TransportMemoryOptions)}.{nameof(ReservedBytes)} must be null (sized from Kestrel's limits), 0 (no reservation) or positive; it was {ReservedBytes}.");
        }

        if (OverflowMode is not (AllocationMode.NoWait or AllocationMode.MayFail))
        {
            throw new ArgumentOutOfRangeException(nameof(OverflowMode), OverflowMode, $"{nameof(TransportMemoryOptions)}.{nameof(OverflowMode)} must be {AllocationMode.NoWait} or {AllocationMode.MayFail}: Kestrel rents on its I/O threads, which must never block; it was {OverflowMode}.");
        }
    }

    /// <summary>The connection limit and the per-connection buffer limits Kestrel enforces, in bytes.</summary>
    internal static long SizeFromLimits(long? maxConnections, long? maxReadBuffer, long? maxRequestBuffer, long? maxWriteBuffer, long? maxResponseBuffer)
    {
        const long Segment = 4096; // a pipe can exceed its pause threshold by the segment it is writing
        if (maxConnections is not > 0)
        {
            throw new InvalidOperationException(
                $"The transport reservation is sized from Kestrel's MaxConcurrentConnections, which is not set: set KestrelServerOptions.Limits.MaxConcurrentConnections, or set {nameof(TransportMemoryOptions)}.{nameof(ReservedBytes)} (0: no reservation, every rent fails fast when the budget is short).");
        }

        long read = Math.Max(maxReadBuffer ?? 0, maxRequestBuffer ?? 0);
        long write = Math.Max(maxWriteBuffer ?? 0, maxResponseBuffer ?? 0);
        if (maxReadBuffer is null && maxRequestBuffer is null || maxWriteBuffer is null && maxResponseBuffer is null)
        {
            throw new InvalidOperationException(
                $"The transport reservation is sized from Kestrel's per-connection buffer limits, and one direction is unlimited (MaxReadBufferSize/MaxRequestBufferSize or MaxWriteBufferSize/MaxResponseBufferSize are null): set a limit, or set {nameof(TransportMemoryOptions)}.{nameof(ReservedBytes)}.");
        }

        return checked(maxConnections.Value * (read + write + 2 * Segment));
    }
}
