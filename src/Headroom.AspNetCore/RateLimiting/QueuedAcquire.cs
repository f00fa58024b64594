using System.Threading.RateLimiting;

namespace Headroom.AspNetCore;

/// <summary>An acquire waiting in a <see cref="MemoryRateLimiter"/>'s queue.</summary>
internal sealed class QueuedAcquire(int permits, CancellationToken cancellationToken)
{
    public int Permits { get; } = permits;

    public CancellationToken CancellationToken { get; } = cancellationToken;

    public TaskCompletionSource<RateLimitLease> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>At the head, waiting on the budget: only the serving loop completes it (guarded by the limiter's lock).</summary>
    public bool Serving { get; set; }

    public CancellationTokenRegistration Registration { get; set; }
}
