using System.Buffers;
using Microsoft.AspNetCore.Connections;

namespace Headroom.AspNetCore;

/// <summary>
/// Kestrel's memory pools from a budget: register it as the <see cref="IMemoryPoolFactory{T}"/> (see
/// <see cref="TransportMemoryServiceCollectionExtensions.AddTransportMemory"/>) and every socket buffer of the
/// transports is native memory of the budget's arena, counted in its <see cref="MemoryBudget.Used"/>.
/// </summary>
/// <remarks>
/// Kestrel rents on its I/O threads, which must never block. So the first pool reserves the transports' share once
/// (sized from Kestrel's limits: connections × per-connection buffer limits), and every rent draws from it: granted at
/// once, never blocking, never failing while Kestrel keeps to its limits (guarantee G1). A rent beyond the reservation
/// is an ordinary charge in a fail-fast mode; when refused, Kestrel closes that connection, and the rest go on.
/// Back-pressure on requests belongs at admission (<see cref="MemoryAdmissionExtensions.UseMemoryAdmission"/>), which
/// waits asynchronously, off the I/O threads. A pool hands out whole size classes; Kestrel's 4 KiB blocks are a class
/// of their own, so a block charges exactly 4096 bytes.
/// </remarks>
public sealed class BudgetMemoryPoolFactory : IMemoryPoolFactory<byte>, IDisposable
{
    private readonly MemoryBudget _budget;
    private readonly Func<long> _reservedBytes;
    private readonly AllocationMode _overflowMode;
    private readonly Lock _sync = new();
    private MemoryReservation? _reservation; // guarded by _sync
    private bool _reserved; // guarded by _sync: the first Create has sized and made the reservation
    private bool _disposed; // guarded by _sync

    /// <summary>Creates a factory whose pools draw from one reservation of <paramref name="reservedBytes"/>, made by the first <see cref="Create"/>.</summary>
    /// <param name="budget">The budget the buffers are charged to.</param>
    /// <param name="reservedBytes">The transports' share; 0 reserves nothing (every rent is then a charge in <paramref name="overflowMode"/>).</param>
    /// <param name="overflowMode">What a rent beyond the reservation does: <see cref="AllocationMode.NoWait"/> or <see cref="AllocationMode.MayFail"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value breaks its rule (the message names it).</exception>
    public BudgetMemoryPoolFactory(MemoryBudget budget, long reservedBytes, AllocationMode overflowMode = AllocationMode.NoWait)
        : this(budget, Checked(reservedBytes, overflowMode), overflowMode)
    {
    }

    internal BudgetMemoryPoolFactory(MemoryBudget budget, Func<long> reservedBytes, AllocationMode overflowMode)
    {
        ArgumentNullException.ThrowIfNull(budget);
        if (budget.IsDisposed)
        {
            throw new ObjectDisposedException(budget.Name, $"Budget '{budget.Name}' was disposed; a transport memory pool factory cannot be made over it.");
        }

        new TransportMemoryOptions { OverflowMode = overflowMode }.Validate();
        _budget = budget;
        _reservedBytes = reservedBytes;
        _overflowMode = overflowMode;
    }

    /// <summary>Gets the budget the buffers are charged to.</summary>
    public MemoryBudget Budget => _budget;

    /// <summary>The transports' reservation, once the first pool made it (null with a reservation of 0).</summary>
    internal MemoryReservation? Reservation
    {
        get
        {
            lock (_sync)
            {
                return _reservation;
            }
        }
    }

    /// <summary>Creates a pool for a transport; the first call makes the transports' reservation.</summary>
    /// <param name="options">Kestrel's description of the pool's owner; not used.</param>
    /// <returns>A pool whose rents draw from the reservation, or charge the budget when there is none.</returns>
    /// <exception cref="InvalidOperationException">The reservation cannot be granted now (the message names its size and the budget's room).</exception>
    /// <exception cref="ObjectDisposedException">The factory was disposed.</exception>
    public MemoryPool<byte> Create(MemoryPoolOptions? options = null)
    {
        lock (_sync)
        {
            if (_disposed)
            {
                throw new ObjectDisposedException($"{nameof(BudgetMemoryPoolFactory)} on '{_budget.Name}'", $"The transport memory pool factory on budget '{_budget.Name}' was disposed.");
            }

            if (!_reserved)
            {
                _reservation = Reserve();
                _reserved = true;
            }

            return _reservation is { } reservation ? _budget.AsMemoryPool(reservation, _overflowMode) : _budget.AsMemoryPool(_overflowMode);
        }
    }

    /// <summary>Returns the unused part of the reservation; pools already created keep their buffers until Kestrel disposes them.</summary>
    public void Dispose()
    {
        MemoryReservation? reservation;
        lock (_sync)
        {
            _disposed = true;
            reservation = _reservation;
            _reservation = null;
        }

        reservation?.Dispose();
    }

    /// <summary>The public constructor's checks, which name its parameters (the options' own checks name their properties).</summary>
    private static Func<long> Checked(long reservedBytes, AllocationMode overflowMode)
    {
        if (reservedBytes < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(reservedBytes), reservedBytes, $"The transports' reservation must be 0 (no reservation) or positive; it was {reservedBytes}.");
        }

        if (overflowMode is not (AllocationMode.NoWait or AllocationMode.MayFail))
        {
            throw new ArgumentOutOfRangeException(nameof(overflowMode), overflowMode, $"The overflow mode must be {AllocationMode.NoWait} or {AllocationMode.MayFail}: Kestrel rents on its I/O threads, which must never block; it was {overflowMode}.");
        }

        return () => reservedBytes;
    }

    /// <summary>Tokens mode: the transports draw from their share first and leave ordinary memory to the requests.</summary>
    private MemoryReservation? Reserve()
    {
        long bytes = _reservedBytes();
        if (bytes == 0)
        {
            return null;
        }

        long grantable = _budget.Capacity - _budget.MinWatermark;
        if (bytes > grantable)
        {
            throw new InvalidOperationException(
                $"The transports' reservation of {bytes} bytes can never fit budget '{_budget.Name}' (capacity {_budget.Capacity}, min watermark {_budget.MinWatermark}): lower Kestrel's connection or buffer limits, or set {nameof(TransportMemoryOptions)}.{nameof(TransportMemoryOptions.ReservedBytes)}.");
        }

        if (!_budget.TryReserve(bytes, out MemoryReservation? reservation, ReservationMode.Tokens))
        {
            throw new InvalidOperationException(
                $"The transports' reservation of {bytes} bytes was not granted by budget '{_budget.Name}' at start ({_budget.Available} bytes available): reserve it before other work starts, or lower Kestrel's limits.");
        }

        return reservation;
    }
}
