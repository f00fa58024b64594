using System.Runtime.CompilerServices;

namespace Headroom.Benchmarks;

/// <summary>
/// The least any reservation can cost, as a reference line for <c>reserve+dispose</c>: admit with the checked
/// compare-and-swap on a counter, hand out a heap object that holds the remainder, close it with one exchange (so that
/// disposing twice, or racing a draw, returns the remainder once), and give the remainder back with one add. No
/// Reserved bookkeeping, no validation, no tree. A reservation that keeps any Reserved figure costs more than this.
/// </summary>
internal sealed class ReservationFloor(long limit)
{
    private readonly CheckedCasCounter _committed = new(limit);

    /// <summary>Admits then disposes <paramref name="bytes"/>; false (nothing changed) when the admission would pass the limit.</summary>
    public bool ReserveThenDispose(long bytes)
    {
        Token? token = Admit(bytes);
        if (token is null)
        {
            return false;
        }

        long rest = Interlocked.Exchange(ref token.Remaining, -1);
        _committed.Subtract(rest);
        return true;
    }

    // Not inlined, and returning the object, so that it is allocated on the heap as a reservation handed to its
    // caller is: inlined into the loop, the JIT could keep it on the stack.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private Token? Admit(long bytes) => _committed.TryAdd(bytes) ? new Token(bytes) : null;

    private sealed class Token(long remaining)
    {
        public long Remaining = remaining;
    }
}
