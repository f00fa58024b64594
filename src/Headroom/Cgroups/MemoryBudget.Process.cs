namespace Headroom;

/// <summary>The process budget: a root budget whose capacity is the limit the kernel enforces on this process, less a headroom.</summary>
public sealed partial class MemoryBudget
{
    /// <summary>
    /// Gets the limit this budget was sized from when it was made by <see cref="ForProcess(ProcessBudgetOptions?)"/>
    /// (its source, the group, what could not be read), or <see langword="null"/> for any other budget.
    /// </summary>
    public ProcessMemoryLimit? ProcessLimit { get; private init; }

    /// <summary>
    /// Creates a root budget whose capacity is this process's real memory limit (<see cref="ProcessMemoryLimit.Read"/>:
    /// the cgroup limit the kernel's OOM killer enforces, else physical memory) less a fixed headroom for what Headroom
    /// does not manage.
    /// </summary>
    /// <param name="options">The headroom and the budget's other settings; <see langword="null"/> for the defaults (a quarter of the limit).</param>
    /// <returns>The budget; <see cref="ProcessLimit"/> says where its capacity came from.</returns>
    /// <exception cref="ArgumentException">A setting is invalid, or the headroom leaves no capacity under the limit; the message names the setting and its rule.</exception>
    public static MemoryBudget ForProcess(ProcessBudgetOptions? options = null) => ForProcess(options ?? new ProcessBudgetOptions(), null);

    /// <summary>The factory on a given reading (tests pass fixtures); validates before reading anything.</summary>
    internal static MemoryBudget ForProcess(ProcessBudgetOptions options, ProcessMemoryLimit? limit)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        limit ??= ProcessMemoryLimit.Read();
        MemoryBudgetOptions budget = options.Budget.Copy();
        budget.Capacity = options.CapacityUnder(limit);
        budget.Validate($"{nameof(ProcessBudgetOptions.Budget)}."); // first here, so that a bad setting is named by its path from the caller's options
        return new MemoryBudget(budget) { ProcessLimit = limit };
    }
}
