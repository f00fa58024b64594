using System.Threading.RateLimiting;

namespace Headroom.AspNetCore;

/// <summary>
/// A <see cref="RateLimiter"/> whose permits are bytes of a budget (<see cref="MemoryRateLimiterOptions.BytesPerPermit"/>
/// each): a lease is a reservation of its bytes (<see cref="ReservationMode.Tokens"/>), so the holder's charges can
/// draw from it (<see cref="ReservationMetadata"/>), and disposing the lease gives the rest back. Acquires wait in
/// FIFO order: the oldest waits on the budget (asynchronously, running direct reclaim, holding nothing), the others
/// behind it, up to <see cref="MemoryRateLimiterOptions.QueueLimit"/> permits. Usable wherever a
/// <see cref="RateLimiter"/> is: ASP.NET Core's rate-limiting middleware (as a partition's limiter), Polly's
/// rate-limiter strategy.
/// </summary>
public sealed class MemoryRateLimiter : RateLimiter
{
    /// <summary>The metadata of a granted lease that holds its <see cref="MemoryReservation"/>.</summary>
    public static readonly MetadataName<MemoryReservation> ReservationMetadata = MetadataName.Create<MemoryReservation>("Headroom.Reservation");

    private static readonly MemoryLease NoBytes = new(null, null); // a 0-permit grant: holds nothing, counts as no lease

    private readonly MemoryBudget _budget;
    private readonly long _bytesPerPermit;
    private readonly int _queueLimit;
    private readonly TimeSpan? _retryAfter;
    private readonly TimeProvider _time;
    private readonly Lock _sync = new();
    private readonly LinkedList<QueuedAcquire> _queue = new(); // guarded by _sync; oldest first
    private readonly CancellationTokenSource _disposal = new();
    private long _queuedPermits; // guarded by _sync
    private long _leases; // guarded by _sync: granted and not yet disposed
    private long _idleSince; // guarded by _sync: timestamp of the last release while nothing was held
    private bool _serving; // guarded by _sync: the loop that waits for the head runs
    private bool _disposed; // guarded by _sync
    private long _successful;
    private long _failed;

    /// <summary>Creates the limiter.</summary>
    /// <param name="budget">The budget whose bytes are the permits.</param>
    /// <param name="options">The settings; the defaults when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">A setting breaks its rule (the message names it).</exception>
    /// <exception cref="ObjectDisposedException">The budget was disposed.</exception>
    public MemoryRateLimiter(MemoryBudget budget, MemoryRateLimiterOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(budget);
        if (budget.IsDisposed)
        {
            throw new ObjectDisposedException(budget.Name, $"Budget '{budget.Name}' was disposed; a rate limiter cannot be made over it.");
        }

        options ??= new MemoryRateLimiterOptions();
        options.Validate();
        _budget = budget;
        _bytesPerPermit = options.BytesPerPermit;
        _queueLimit = options.QueueLimit;
        _retryAfter = options.RetryAfter;
        _time = options.TimeProvider;
        _idleSince = _time.GetTimestamp();
    }

    /// <summary>Gets the most permits one acquire may ask for: what the budget could ever reserve (capacity − min watermark), in permits.</summary>
    public long PermitLimit => (_budget.Capacity - _budget.MinWatermark) / _bytesPerPermit;

    /// <inheritdoc/>
    public override TimeSpan? IdleDuration
    {
        get
        {
            lock (_sync)
            {
                return _leases > 0 || _queue.Count > 0 ? null : _time.GetElapsedTime(_idleSince);
            }
        }
    }

    /// <inheritdoc/>
    public override RateLimiterStatistics? GetStatistics()
    {
        lock (_sync)
        {
            return new RateLimiterStatistics
            {
                CurrentAvailablePermits = AvailablePermits(),
                CurrentQueuedCount = _queuedPermits,
                TotalFailedLeases = Interlocked.Read(ref _failed),
                TotalSuccessfulLeases = Interlocked.Read(ref _successful),
            };
        }
    }

    /// <summary>A lease's release: the count of held leases, and the idle clock when it reaches zero.</summary>
    internal void Released()
    {
        lock (_sync)
        {
            if (--_leases == 0)
            {
                _idleSince = _time.GetTimestamp();
            }
        }
    }

    /// <inheritdoc/>
    protected override RateLimitLease AttemptAcquireCore(int permitCount)
    {
        CheckPermitCount(permitCount);
        lock (_sync)
        {
            ThrowIfDisposed();
            if (permitCount == 0)
            {
                return AvailablePermits() > 0 ? Granted(NoBytes) : Refused("No permits are available.");
            }

            // Never past a waiter: FIFO holds for the attempts too.
            return _queue.Count == 0 && TryGrant(permitCount) is { } lease ? lease : Refused($"{permitCount} permits ({permitCount * _bytesPerPermit} bytes) are not available on budget '{_budget.Name}' now.");
        }
    }

    /// <inheritdoc/>
    protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
    {
        CheckPermitCount(permitCount);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<RateLimitLease>(cancellationToken);
        }

        QueuedAcquire queued;
        bool startServing = false;
        lock (_sync)
        {
            ThrowIfDisposed();
            if (permitCount == 0 && AvailablePermits() > 0)
            {
                return new(Granted(NoBytes));
            }

            if (permitCount > 0 && _queue.Count == 0 && TryGrant(permitCount) is { } lease)
            {
                return new(lease);
            }

            if (_queuedPermits + permitCount > _queueLimit)
            {
                return new(Refused($"The queue limit of {_queueLimit} permits is reached ({_queuedPermits} queued)."));
            }

            queued = new QueuedAcquire(permitCount, cancellationToken);
            _queue.AddLast(queued);
            _queuedPermits += permitCount;
            if (!_serving)
            {
                _serving = startServing = true;
            }
        }

        if (cancellationToken.CanBeCanceled)
        {
            queued.Registration = cancellationToken.UnsafeRegister(static (state, token) => ((MemoryRateLimiter)((object[])state!)[0]).Cancel((QueuedAcquire)((object[])state)[1], token), new object[] { this, queued });
        }

        if (startServing)
        {
            // The loop must not carry the caller's ambient scopes (a reservation it is in would count as held).
            using (ExecutionContext.SuppressFlow())
            {
                _ = Task.Run(ServeAsync, CancellationToken.None);
            }
        }

        return new(queued.Completion.Task);
    }

    /// <summary>Queued acquires get a failed lease; granted leases stay valid and give their bytes back when disposed.</summary>
    protected override void Dispose(bool disposing)
    {
        List<QueuedAcquire> refused = [];
        lock (_sync)
        {
            if (_disposed)
            {
                base.Dispose(disposing);
                return;
            }

            _disposed = true;
            for (LinkedListNode<QueuedAcquire>? node = _queue.First; node is not null;)
            {
                LinkedListNode<QueuedAcquire>? next = node.Next;
                if (!node.Value.Serving)
                {
                    _queue.Remove(node);
                    _queuedPermits -= node.Value.Permits;
                    refused.Add(node.Value);
                }

                node = next;
            }
        }

        foreach (QueuedAcquire queued in refused)
        {
            queued.Registration.Unregister();
            queued.Completion.TrySetResult(Refused("The limiter was disposed."));
        }

        _disposal.Cancel(); // the head's wait ends; the loop refuses it and stops
        base.Dispose(disposing);
    }

    /// <inheritdoc/>
    protected override async ValueTask DisposeAsyncCore()
    {
        Dispose(true);
        await base.DisposeAsyncCore().ConfigureAwait(false);
    }

    /// <summary>A use after dispose names the limiter's budget, not only its type. Called under <c>_sync</c>.</summary>
    private void ThrowIfDisposed()
    {
        if (_disposed)
        {
            throw new ObjectDisposedException($"{nameof(MemoryRateLimiter)} on '{_budget.Name}'", $"The memory rate limiter on budget '{_budget.Name}' was disposed.");
        }
    }

    private void CheckPermitCount(int permitCount)
    {
        if (permitCount > PermitLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(permitCount), permitCount,
                $"{permitCount} permits of {_bytesPerPermit} bytes exceed the permit limit {PermitLimit}: what budget '{_budget.Name}' can ever reserve ({_budget.Capacity - _budget.MinWatermark} bytes).");
        }
    }

    /// <summary>What a reservation could get now (capacity − min watermark − committed), in whole permits.</summary>
    private long AvailablePermits() => Math.Max(0, _budget.Available - _budget.MinWatermark) / _bytesPerPermit;

    private MemoryLease? TryGrant(int permitCount) =>
        _budget.TryReserve(permitCount * _bytesPerPermit, out MemoryReservation? reservation, ReservationMode.Tokens) ? Granted(new MemoryLease(this, reservation)) : null;

    private MemoryLease Granted(MemoryLease lease)
    {
        Interlocked.Increment(ref _successful);
        if (lease != NoBytes)
        {
            _leases++;
        }

        return lease;
    }

    private RefusedLease Refused(string reason)
    {
        Interlocked.Increment(ref _failed);
        return new RefusedLease(reason, _retryAfter);
    }

    /// <summary>A queued acquire's token fired: it leaves the queue unless it is the head, whose wait the token ends.</summary>
    private void Cancel(QueuedAcquire queued, CancellationToken token)
    {
        lock (_sync)
        {
            if (queued.Serving || !_queue.Remove(queued))
            {
                return;
            }

            _queuedPermits -= queued.Permits;
        }

        queued.Completion.TrySetCanceled(token);
    }

    /// <summary>Serves the queue head by head: each waits on the budget's own FIFO queue, which uncharges wake.</summary>
    private async Task ServeAsync()
    {
        while (true)
        {
            QueuedAcquire head;
            lock (_sync)
            {
                if (_queue.First is not { } first)
                {
                    _serving = false;
                    return;
                }

                head = first.Value;
                head.Serving = true;
            }

            MemoryReservation? reservation = null;
            string? refusal = null;
            using (var wait = CancellationTokenSource.CreateLinkedTokenSource(head.CancellationToken, _disposal.Token))
            {
                try
                {
                    // A 0-permit acquire waits until one permit is available, and holds nothing.
                    long bytes = Math.Max(1, head.Permits) * _bytesPerPermit;
                    reservation = await _budget.ReserveAsync(bytes, ReservationMode.Tokens, cancellationToken: wait.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    refusal = "The limiter was disposed.";
                }
                catch (Exception e) when (e is MemoryAllocationException or ObjectDisposedException)
                {
                    refusal = e.Message; // the OOM path refused it, or the budget is gone
                }
            }

            RateLimitLease? lease = null;
            lock (_sync)
            {
                _queue.Remove(head);
                _queuedPermits -= head.Permits;
                if (reservation is not null && !_disposed && !head.CancellationToken.IsCancellationRequested)
                {
                    if (head.Permits == 0)
                    {
                        reservation.Dispose();
                        lease = Granted(NoBytes);
                    }
                    else
                    {
                        lease = Granted(new MemoryLease(this, reservation));
                    }

                    reservation = null;
                }
            }

            reservation?.Dispose(); // granted too late: cancelled or disposed meanwhile
            head.Registration.Unregister();
            if (lease is not null)
            {
                head.Completion.TrySetResult(lease);
            }
            else if (head.CancellationToken.IsCancellationRequested)
            {
                head.Completion.TrySetCanceled(head.CancellationToken);
            }
            else
            {
                head.Completion.TrySetResult(Refused(refusal ?? "The limiter was disposed."));
            }
        }
    }
}
