using System.Buffers;
using Microsoft.Coyote.Specifications;
using Xunit.Abstractions;
using static Headroom.Coyote.Tests.Concurrency.CoyoteHarness;

namespace Headroom.Coyote.Tests.Concurrency;

/// <summary>
/// Systematic tests of the arena's per-thread caches racing trims (semantics §9; the protocol is on ThreadCache).
/// Owners park and take buffers in their own caches with plain stores while other actors trim them; Coyote cuts the
/// owner's section anywhere. It checks sequentially consistent schedules: the interleaving argument, not the fence.
/// </summary>
[Collection(CoyoteTests.Name)]
public sealed class ArenaConcurrencyTests(ITestOutputHelper output)
{
    private const long MiB = 1L << 20;
    private const int Piece = 4096;

    /// <summary>
    /// Two owners rent and return 4 KiB buffers (the second rent of each comes from its own cache) while a third actor
    /// trims twice: no buffer is handed out twice or freed twice, the arena's own count of native bytes never exceeds
    /// what the root has charged, and after a last trim both are exactly zero.
    /// </summary>
    [Fact]
    public void Owners_using_their_caches_while_trims_run_lose_no_buffer()
    {
        ExploreDetached(output, iterations: 1000, maxSteps: 50_000, body: async () =>
        {
            MemoryBudget budget = NewBudget(capacity: MiB);

            Task Owner(string name) => Task.Run(async () =>
            {
                var seen = new HashSet<nint>();
                for (int round = 0; round < 2; round++)
                {
                    IMemoryOwner<byte> owner = budget.Rent(Piece, AllocationMode.NoWait);
                    owner.Memory.Span.Fill((byte)round);
                    CheckNative(budget);
                    await Pause();
                    Specification.Assert(owner.Memory.Span[Piece - 1] == (byte)round, "{0}: its buffer was written by someone else", name);
                    owner.Dispose();
                    CheckNative(budget);
                }
            });

            Task trimmer = Task.Run(async () =>
            {
                for (int round = 0; round < 2; round++)
                {
                    budget.TrimParked();
                    CheckNative(budget);
                    await Pause();
                }
            });

            await All(Owner("a"), Owner("b"), trimmer);
            budget.TrimParked();
            Specification.Assert(budget.Arena.Chunks.Bytes == 0 && budget.Used == 0 && budget.Parked == 0,
                "Native bytes {0}, parked {1} after the last trim: {2}", budget.Arena.Chunks.Bytes, budget.Parked, budget.GetSnapshot());
            CheckDrained(budget);
        });
    }

    /// <summary>
    /// An owner returns buffers into its cache while a NoFail charge needs every byte but the owner's one buffer: it
    /// fits only once the parked buffers are trimmed (by the charge's own reclaim, the arena being the cheapest
    /// reclaimer), so it is granted in every schedule, and the end is exact.
    /// </summary>
    [Fact]
    public void A_charge_that_needs_parked_memory_is_granted_while_the_owner_parks()
    {
        ExploreDetached(output, iterations: 1000, maxSteps: 50_000, body: async () =>
        {
            MemoryBudget budget = NewBudget(capacity: MiB);

            Task owner = Task.Run(async () =>
            {
                for (int round = 0; round < 3; round++)
                {
                    IMemoryOwner<byte> buffer = budget.Rent(Piece, AllocationMode.NoWait);
                    await Pause();
                    buffer.Dispose();
                    CheckNative(budget);
                }
            });

            Task large = Task.Run(async () =>
            {
                await Pause();
                await budget.ChargeAsync(MiB - Piece, AllocationMode.NoFail);
                Note($"large granted [{State(budget)}]");
                CheckNative(budget);
                budget.Uncharge(MiB - Piece);
            });

            await All(owner, large);
            budget.TrimParked();
            Specification.Assert(budget.Arena.Chunks.Bytes == 0 && budget.Used == 0, "Native bytes {0} after the last trim: {1}", budget.Arena.Chunks.Bytes, budget.GetSnapshot());
            CheckDrained(budget);
        });
    }

    /// <summary>
    /// The arena charges before it allocates and frees before it uncharges, so its native bytes are never negative and
    /// never above the root's capacity (the two counters cannot be read at one instant, so only the bound is checked).
    /// </summary>
    private static void CheckNative(MemoryBudget budget)
    {
        long native = budget.Arena.Chunks.Bytes;
        Specification.Assert(native >= 0 && native <= budget.Capacity, "Native bytes {0} outside 0..capacity: {1}", native, budget.GetSnapshot());
    }
}
