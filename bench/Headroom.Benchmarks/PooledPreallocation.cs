using System.Buffers;
using System.Runtime.CompilerServices;

namespace Headroom.Benchmarks;

/// <summary>
/// The do-it-yourself alternative to a reservation: to be sure 256 KiB will be there, take it up front as 64 × 4 KiB
/// buffers rented from <see cref="ArrayPool{T}.Shared"/>, then hand them all back — what Dave Chinner called "dumb,
/// complex, CPU and memory intensive". Both benchmark modes use this one implementation, so their baselines agree.
/// </summary>
/// <remarks>
/// The shared pool keeps one buffer per size per thread plus 32 per core, so on a 2-core machine one thread's 64 fit
/// and are recycled; two threads' 128 do not, and the overflow is freshly allocated and dropped for the GC, as in use.
/// </remarks>
internal static class PooledPreallocation
{
    public const int BufferSize = 4096;
    public const int BufferCount = 64;

    /// <summary>The bytes preallocated: 256 KiB.</summary>
    public const long TotalBytes = (long)BufferSize * BufferCount;

    /// <summary>Rents all the buffers, then returns them; false if the pool handed back one too short.</summary>
    public static bool RentThenReturn()
    {
        ArrayPool<byte> pool = ArrayPool<byte>.Shared;
        Held held = default; // on the stack: private to the calling thread, and allocates nothing itself
        Span<byte[]> buffers = held;
        bool allFit = true;
        for (int i = 0; i < buffers.Length; i++)
        {
            buffers[i] = pool.Rent(BufferSize);
            allFit &= buffers[i].Length >= BufferSize;
        }

        for (int i = 0; i < buffers.Length; i++)
        {
            pool.Return(buffers[i]);
        }

        return allFit;
    }

    [InlineArray(BufferCount)]
    private struct Held
    {
        private byte[] _buffer;
    }
}
