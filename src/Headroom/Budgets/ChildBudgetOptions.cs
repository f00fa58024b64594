namespace Headroom;

/// <summary>
/// Settings for a child budget (<see cref="MemoryBudget.CreateChild(ChildBudgetOptions)"/>): only what a level sets
/// for itself. The clock, logger, canary interval and OOM killer are the tree's, set once on its root's
/// <see cref="MemoryBudgetOptions"/>.
/// </summary>
public sealed class ChildBudgetOptions : BudgetLevelOptions
{
}
