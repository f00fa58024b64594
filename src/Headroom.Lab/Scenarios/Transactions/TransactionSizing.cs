using Headroom.Lab.Running;

namespace Headroom.Lab.Scenarios.Transactions;

/// <summary>
/// The scenario's sizes. A transaction needs 1 to <see cref="WorstCaseBuffers"/> buffers (mostly few: Chinner's
/// reserve "we will almost never use"), dirties 1 to <see cref="MaxDirtyPages"/> pages of a file of
/// <see cref="FilePages"/> pages, and the two memory levels are set against threads × worst case.
/// </summary>
internal sealed record TransactionSizing(int Threads, long Capacity)
{
    /// <summary>One buffer, one page.</summary>
    public const int PageBytes = 4096;

    /// <summary>The known worst case of one transaction, in buffers.</summary>
    public const int WorstCaseBuffers = 64;

    /// <summary>The known worst case of one transaction, in bytes.</summary>
    public const long WorstCaseBytes = (long)PageBytes * WorstCaseBuffers;

    /// <summary>The mean number of buffers above the first (an exponential tail, cut at the worst case).</summary>
    public const double MeanExtraBuffers = 7;

    /// <summary>The most pages one commit writes into the page cache.</summary>
    public const int MaxDirtyPages = 4;

    /// <summary>The file behind the page cache, in pages.</summary>
    public const int FilePages = 1024;

    public const string Ample = "ample";

    public const string Tight = "tight";

    /// <summary>
    /// ample: four times what the whole file and every thread's worst case need, so nothing is ever reclaimed and the
    /// question is overhead. tight: room for half the threads' worst cases at once plus half a worst case, so the page
    /// cache is reclaimed all the time, reservations queue and allocations wait or fail: the question is progress.
    /// <see cref="LabSettings.Capacity"/> replaces the tight capacity.
    /// </summary>
    public static TransactionSizing For(string? variant, LabSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        int threads = Math.Clamp(settings.Threads, 1, 256);
        long capacity = variant switch
        {
            Ample => 4 * (((long)FilePages * PageBytes) + (threads * WorstCaseBytes)),
            Tight => settings.Capacity ?? ((Math.Max(1, threads / 2) * WorstCaseBytes) + (WorstCaseBytes / 2)),
            _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, $"The transactions scenario runs at '{Ample}' or '{Tight}'; '{variant}' is neither."),
        };
        return new TransactionSizing(threads, capacity);
    }
}
