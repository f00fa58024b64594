using Headroom.Lab.Running;

namespace Headroom.Lab.Scenarios.Transactions;

/// <summary>What every policy of one run shares: the budget, the page cache over the file, the sizes and the counts.</summary>
internal sealed class Filesystem(PolicyRun run, MemoryBudget budget, PageCache cache, TransactionSizing sizing)
{
    public PolicyRun Run { get; } = run;

    public MemoryBudget Budget { get; } = budget;

    public PageCache Cache { get; } = cache;

    public TransactionSizing Sizing { get; } = sizing;

    public TransactionTally Tally { get; } = new();
}
