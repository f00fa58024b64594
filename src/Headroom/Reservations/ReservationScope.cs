namespace Headroom;

/// <summary>
/// An open ambient reservation: while it is open, every charge on this async flow against the reservation's budget or
/// one of its descendants goes through the reservation (semantics §5). It flows through <see langword="await"/> like any
/// <see cref="AsyncLocal{T}"/>; disposing it restores exactly the scope that was open before.
/// </summary>
/// <remarks>Create one with <see cref="MemoryReservation.Enter"/>. Charges cost nothing extra while no scope is open anywhere.</remarks>
public sealed class ReservationScope : IDisposable
{
    private static readonly AsyncLocal<MemoryReservation?> Current = new();

    /// <summary>Scopes open in the process: while none is, charges skip the flow lookup altogether.</summary>
    private static int s_open;

    private readonly MemoryReservation? _previous;
    private int _disposed;

    internal ReservationScope(MemoryReservation reservation)
    {
        _previous = Current.Value;
        Current.Value = reservation;
        Interlocked.Increment(ref s_open);
    }

    internal static bool AnyOpen => Volatile.Read(ref s_open) != 0;

    /// <summary>Closes the scope; closing it twice is harmless.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Current.Value = _previous;
            Interlocked.Decrement(ref s_open);
        }
    }

    /// <summary>The flow's live reservation if it is on <paramref name="budget"/> or an ancestor of it; else null.</summary>
    internal static MemoryReservation? Covering(MemoryBudget budget)
    {
        if (Current.Value is not { IsDisposed: false } reservation)
        {
            return null;
        }

        for (MemoryBudget? level = budget; level is not null; level = level.Parent)
        {
            if (level == reservation.Budget)
            {
                return reservation;
            }
        }

        return null;
    }

    /// <summary>The flow's live reservation if it is anywhere in <paramref name="tree"/>; else null.</summary>
    internal static MemoryReservation? Holding(BudgetTree tree) =>
        AnyOpen && Current.Value is { IsDisposed: false } reservation && reservation.Budget.Tree == tree ? reservation : null;
}
