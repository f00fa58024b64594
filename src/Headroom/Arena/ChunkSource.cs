using System.Runtime.InteropServices;

namespace Headroom.Arena;

/// <summary>
/// Where the arena's native memory comes from and goes back to: <see cref="NativeMemory.AlignedAlloc"/> and
/// <see cref="NativeMemory.AlignedFree"/>, with the arena's own count of the bytes it holds. The arena charges before
/// it allocates and frees before it uncharges, so <see cref="Bytes"/> never exceeds what its root has charged for it.
/// </summary>
internal sealed unsafe class ChunkSource
{
    private long _bytes;
    private long _peak;

    /// <summary>Gets the native bytes held now (in use and parked).</summary>
    internal long Bytes => Volatile.Read(ref _bytes);

    /// <summary>Gets the most native bytes ever held at once.</summary>
    internal long Peak => Volatile.Read(ref _peak);

    /// <summary>Allocates <paramref name="bytes"/> aligned to <paramref name="alignment"/>; throws <see cref="OutOfMemoryException"/> when the process has none.</summary>
    internal byte* Allocate(long bytes, nuint alignment)
    {
        byte* chunk = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, alignment);
        long held = Interlocked.Add(ref _bytes, bytes);
        long peak = Volatile.Read(ref _peak);
        while (held > peak)
        {
            long seen = Interlocked.CompareExchange(ref _peak, held, peak);
            if (seen == peak)
            {
                break;
            }

            peak = seen;
        }

        return chunk;
    }

    /// <summary>Frees a chunk of <paramref name="bytes"/> that <see cref="Allocate"/> returned.</summary>
    internal void Free(byte* chunk, long bytes)
    {
        NativeMemory.AlignedFree(chunk);
        Interlocked.Add(ref _bytes, -bytes);
    }
}
