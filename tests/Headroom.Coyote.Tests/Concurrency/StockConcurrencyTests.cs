using Microsoft.Coyote.Specifications;
using Xunit.Abstractions;
using static Headroom.Coyote.Tests.Concurrency.CoyoteHarness;

namespace Headroom.Coyote.Tests.Concurrency;

/// <summary>
/// Systematic tests of per-thread stocks racing their drain (semantics §1; the protocol is on StockDrain). Coyote
/// interleaves at every field access of the rewritten library, so an owner's busy section can be cut anywhere by a
/// drainer. It checks sequentially consistent schedules: the interleaving argument, not the hardware fence.
/// </summary>
[Collection(CoyoteTests.Name)]
public sealed class StockConcurrencyTests(ITestOutputHelper output)
{
    private const long MiB = 1L << 20;
    private const long Piece = 4096;

    /// <summary>
    /// Two owners charge and uncharge 4 KiB pieces through their stocks while a third actor asks for everything but
    /// what the owners may hold at once: it fits only once both stocks are drained. No byte is lost or counted twice
    /// (Committed is exactly zero at the end), I1 holds throughout, and the large charge is granted.
    /// </summary>
    [Fact]
    public void Owners_using_their_stocks_and_a_charge_that_drains_them_lose_no_byte()
    {
        ExploreDetached(output, iterations: 1000, maxSteps: 50_000, body: async () =>
        {
            MemoryBudget budget = NewBudget(capacity: 16 * MiB);

            Task Owner(string name) => Task.Run(async () =>
            {
                for (int round = 0; round < 2; round++)
                {
                    Specification.Assert(budget.TryCharge(Piece), "{0}: a 4 KiB charge was refused with room for it", name);
                    Specification.Assert(budget.Committed <= budget.Capacity, "I1 broken: {0}", budget.GetSnapshot());
                    await Pause();
                    budget.Uncharge(Piece);
                }
            });

            Task large = Task.Run(async () =>
            {
                await budget.ChargeAsync(budget.Capacity - 2 * Piece, AllocationMode.NoFail);
                Note($"large granted [{State(budget)}]");
                Specification.Assert(budget.Committed <= budget.Capacity, "I1 broken: {0}", budget.GetSnapshot());
                budget.Uncharge(budget.Capacity - 2 * Piece);
            });

            await All(Owner("a"), Owner("b"), large);
            budget.DrainStocks();
            Specification.Assert(budget.Stocked == 0 && budget.Committed == 0, "Bytes lost or counted twice: {0}", budget.GetSnapshot());
            CheckDrained(budget);
        });
    }

    /// <summary>
    /// An owner that refills, gives and takes while drains run and a NoWait charge is refused and retried: every
    /// refusal is one that exact accounting makes too (the charge asks for exactly what is free once the owner's
    /// piece is counted), and the end is exact.
    /// </summary>
    [Fact]
    public void A_refusal_after_a_drain_is_exact_accountings()
    {
        ExploreDetached(output, iterations: 1000, maxSteps: 50_000, body: async () =>
        {
            MemoryBudget budget = NewBudget(capacity: 16 * MiB);
            bool holding = false;

            Task owner = Task.Run(async () =>
            {
                Specification.Assert(budget.TryCharge(Piece), "the owner's first charge was refused");
                holding = true;
                await Pause();
                budget.Uncharge(Piece);
                holding = false;
            });

            Task asker = Task.Run(async () =>
            {
                await Pause();
                bool wasHolding = holding;
                bool granted = budget.TryCharge(budget.Capacity - Piece);
                bool stillHolding = holding;
                Note($"asker granted={granted} holding {wasHolding}->{stillHolding} [{State(budget)}]");
                Specification.Assert(granted || wasHolding || stillHolding, "refused although only the owner's stock could have been in the way: {0}", budget.GetSnapshot());
                if (granted)
                {
                    budget.DrainStocks();
                    Specification.Assert(budget.Committed <= budget.Capacity, "I1 broken: {0}", budget.GetSnapshot());
                    budget.Uncharge(budget.Capacity - Piece);
                }
            });

            await All(owner, asker);
            budget.DrainStocks();
            Specification.Assert(budget.Stocked == 0 && budget.Committed == 0, "Bytes lost or counted twice: {0}", budget.GetSnapshot());
            CheckDrained(budget);
        });
    }
}
