using System.Collections.Concurrent;
using Headroom.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Headroom.Reclaim;

/// <summary>
/// The tree's kswapd: one worker, started on the first wake, that sleeps on a semaphore until a grant leaves a level
/// below its low watermark or a charge parks in its queue, then reclaims for that level until its high watermark is
/// free and its oldest waiter fits. A pass without progress sends the worker back to sleep and the level is not taken
/// up again for a second, so that a budget hovering below low with nothing reclaimable does not spin it; the retry
/// timer (on the budget's clock, independent of the canary) takes a resting level that is still short up again then.
/// </summary>
internal sealed class BackgroundReclaim : IDisposable
{
    private static readonly TimeSpan RetryAfterNoProgress = TimeSpan.FromSeconds(1);

    private readonly ReclaimDriver _driver;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly LogInterval _faultLog;
    private readonly ConcurrentQueue<MemoryBudget> _short = new();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly RetryTimer _retry;
    private readonly object _start = new();
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _worker;
    private int _signalled;
    private int _running;
    private long _passes;

    internal BackgroundReclaim(ReclaimDriver driver, TimeProvider clock, ILogger logger)
    {
        _driver = driver;
        _clock = clock;
        _logger = logger;
        _faultLog = new LogInterval(clock);
        _retry = new RetryTimer(clock, RetryAfterNoProgress, Wake);
    }

    /// <summary>Gets whether the worker is reclaiming now (false while it sleeps).</summary>
    internal bool IsRunning => Volatile.Read(ref _running) != 0;

    /// <summary>Gets whether a wake is in flight: the semaphore released, the worker not yet past it.</summary>
    internal bool IsSignalled => Volatile.Read(ref _signalled) != 0;

    /// <summary>Gets a task that completes once the worker has ended after <see cref="Dispose"/> (at once if it never started).</summary>
    internal Task Stopped => _stopped.Task;

    /// <summary>Gets how many passes the worker has run.</summary>
    internal long Passes => Interlocked.Read(ref _passes);

    /// <summary>Queues a level that fell below low and wakes the worker; cheap when the level is already queued.</summary>
    internal void Wake(MemoryBudget level)
    {
        if (!level.TryQueueForBackground(_clock))
        {
            return;
        }

        _short.Enqueue(level);
        if (Interlocked.Exchange(ref _signalled, 1) == 0)
        {
            EnsureWorker();
            _signal.Release();
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _retry.Dispose();
        lock (_start)
        {
            LockOrder.Entered(LockLevel.Leaf, _start);
            if (_worker is null)
            {
                _worker = Task.CompletedTask; // no worker will start now
                _stopped.TrySetResult();
            }
        }
    }

    private void EnsureWorker()
    {
        lock (_start)
        {
            LockOrder.Entered(LockLevel.Leaf, _start);
            _worker ??= Detached.Start(() => Task.Run(WorkAsync).ContinueWith(
                static (_, stopped) => ((TaskCompletionSource)stopped!).TrySetResult(), _stopped, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default));
        }
    }

    private async Task WorkAsync()
    {
        while (true)
        {
            try
            {
                await _signal.WaitAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            Volatile.Write(ref _running, 1);
            Volatile.Write(ref _signalled, 0);
            while (!_stop.IsCancellationRequested && _short.TryDequeue(out MemoryBudget? level))
            {
                bool progress = await ReclaimForAsync(level).ConfigureAwait(false);

                level.LeaveBackgroundQueue(_clock, progress ? TimeSpan.Zero : RetryAfterNoProgress);
                if (level.Shortfall() > 0)
                {
                    if (progress)
                    {
                        Wake(level); // a waiter that parked while the level was still queued had its own wake refused
                    }
                    else
                    {
                        _retry.Add(level); // resting: taken up again when the rest is over, canary or not
                    }
                }
            }

            Volatile.Write(ref _running, 0);
        }
    }

    /// <summary>Reclaims for one level until its shortfall is met or a pass makes no progress; false when it stopped without progress.</summary>
    private async Task<bool> ReclaimForAsync(MemoryBudget level)
    {
        try
        {
            bool progress = true;
            long shortfall;
            while (progress && !_stop.IsCancellationRequested && (shortfall = level.Shortfall()) > 0)
            {
                progress = await _driver.PassAsync(level, shortfall, context: null, _stop.Token).ConfigureAwait(false) > 0;
                Interlocked.Increment(ref _passes);
            }

            return progress;
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            return false; // the tree is being disposed
        }
        catch (Exception e)
        {
            // Shrinkers isolate their reclaimers; whatever still escapes (OutOfMemoryException included) must not
            // end the tree's only worker: the level rests as after a fruitless pass.
            if (_faultLog.Allows())
            {
                Log.BackgroundReclaimFailedNoThrow(_logger, e, level.Name);
            }

            return false;
        }
    }
}
