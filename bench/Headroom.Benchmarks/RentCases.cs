using System.Buffers;
using System.Runtime.InteropServices;

namespace Headroom.Benchmarks;

/// <summary>
/// Quick mode's arena rows (issue 11): rent+dispose with full accounting against the BCL's pools and the C allocator,
/// same run, same shape (one owner per rent for <see cref="MemoryPool{T}.Shared"/>, as for the budget).
/// </summary>
internal static class RentCases
{
    private const long GiB = 1L << 30;
    private const string SharedPool = "memorypool.shared rent+dispose";
    private const string SharedArrayPool = "arraypool.shared rent+return";
    private const string Native = "nativememory alloc+free";

    public static IReadOnlyList<QuickCase> All { get; } =
    [
        .. from size in new[] { 64, 4096, 65_536 }
           from threads in new[] { 1, 2 }
           from baseline in new (string Name, Func<int, RoundBody> Body)[] { (SharedPool, MemoryPoolRentDispose), (SharedArrayPool, ArrayPoolRentReturn), (Native, NativeAllocFree) }
           select new QuickCase($"rent+dispose {Label(size)}", threads, baseline.Name, () => RentDispose(size), () => baseline.Body(size)),
    ];

    private static string Label(int size) => size >= 1024 ? $"{size / 1024}KiB" : $"{size}B";

    private static RoundBody RentDispose(int size)
    {
        var budget = new MemoryBudget(GiB);
        return n =>
        {
            long done = 0;
            for (long i = 0; i < n; i++)
            {
                IMemoryOwner<byte> owner = budget.Rent(size, AllocationMode.NoWait);
                owner.Dispose();
                done++;
            }

            return done;
        };
    }

    private static RoundBody MemoryPoolRentDispose(int size) => n =>
    {
        long done = 0;
        for (long i = 0; i < n; i++)
        {
            IMemoryOwner<byte> owner = MemoryPool<byte>.Shared.Rent(size);
            owner.Dispose();
            done++;
        }

        return done;
    };

    private static RoundBody ArrayPoolRentReturn(int size) => n =>
    {
        long done = 0;
        for (long i = 0; i < n; i++)
        {
            byte[] array = ArrayPool<byte>.Shared.Rent(size);
            ArrayPool<byte>.Shared.Return(array);
            done++;
        }

        return done;
    };

    private static unsafe RoundBody NativeAllocFree(int size) => n =>
    {
        long done = 0;
        for (long i = 0; i < n; i++)
        {
            void* memory = NativeMemory.Alloc((nuint)size);
            NativeMemory.Free(memory);
            done++;
        }

        return done;
    };
}
