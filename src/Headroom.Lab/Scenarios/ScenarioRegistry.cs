using Headroom.Lab.Scenarios.AtomicReserve;
using Headroom.Lab.Scenarios.OomLockDeadlock;
using Headroom.Lab.Scenarios.ReclaimRecursion;
using Headroom.Lab.Scenarios.TooSmallToFail;

namespace Headroom.Lab.Scenarios;

/// <summary>Every scenario of the lab, in the report's order (the article's order).</summary>
internal static class ScenarioRegistry
{
    public static IReadOnlyList<IScenario> All() =>
    [
        new TooSmallToFailScenario(),
        new ReclaimRecursionScenario(),
        new OomLockDeadlockScenario(),
        new Transactions.TransactionsScenario(),
        new AtomicReserveScenario(),
        new Container.ContainerScenario(),
        new Service.ServiceScenario(),
    ];
}
