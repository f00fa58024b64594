using System.Buffers;
using Headroom.AspNetCore;

namespace Headroom.Benchmarks;

/// <summary>
/// Quick mode's Kestrel rows (issue 14): a 4 KiB block (Kestrel's segment) rented and returned through the pool that
/// <see cref="BudgetMemoryPoolFactory"/> gives a transport, against <see cref="MemoryPool{T}.Shared"/> in the same run.
/// "reserved" is the shipped default (drawn from the transports' reservation); "no reservation" is the fail-fast pool
/// over the arena's thread caches.
/// </summary>
internal static class TransportCases
{
    private const long GiB = 1L << 30;
    private const int Block = 4096;
    private const string SharedPool = "memorypool.shared rent+dispose";

    public static IReadOnlyList<QuickCase> All { get; } =
    [
        .. from threads in new[] { 1, 2 }
           from reserved in new[] { true, false }
           select new QuickCase($"kestrel pool rent+dispose 4KiB, {(reserved ? "reserved" : "no reservation")}", threads, SharedPool, () => FactoryPool(reserved), SharedRentDispose),
    ];

    private static RoundBody FactoryPool(bool reserved)
    {
        var budget = new MemoryBudget(GiB);
        var factory = new BudgetMemoryPoolFactory(budget, reserved ? 1L << 20 : 0);
        MemoryPool<byte> pool = factory.Create();
        return n =>
        {
            long done = 0;
            for (long i = 0; i < n; i++)
            {
                IMemoryOwner<byte> owner = pool.Rent(Block);
                owner.Dispose();
                done++;
            }

            return done;
        };
    }

    private static RoundBody SharedRentDispose() => n =>
    {
        long done = 0;
        for (long i = 0; i < n; i++)
        {
            IMemoryOwner<byte> owner = MemoryPool<byte>.Shared.Rent(Block);
            owner.Dispose();
            done++;
        }

        return done;
    };
}
