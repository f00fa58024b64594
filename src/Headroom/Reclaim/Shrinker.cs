using Headroom.Diagnostics;
using Headroom.Reclaim;
using Microsoft.Extensions.Logging;

namespace Headroom;

/// <summary>
/// A registered reclaimer with its isolation: each call runs in a reclaim context that counts what it really
/// uncharges; a call that throws or runs past its timeout backs the reclaimer off (1 s, doubling to 1 min), and one
/// that claims more than it freed is reported. Nothing it does can corrupt accounting or hold the caller forever.
/// </summary>
internal sealed class Shrinker
{
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(1);

    private readonly object _sync = new();
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly LogInterval _faultLog;
    private TimeSpan _backoff = FirstBackoff;
    private long _backedOffUntil;
    private bool _backedOff;
    /// <summary>The call with a timeout now running (abandoned or not), which other callers join; guarded by <see cref="_sync"/>.</summary>
    private InFlight? _inFlight;

    internal Shrinker(MemoryBudget budget, IMemoryReclaimer reclaimer, ReclaimerOptions options, long order, TimeProvider clock, ILogger logger)
    {
        Budget = budget;
        Reclaimer = reclaimer;
        Domain = options.Domain;
        Cost = options.Cost;
        DoesIo = options.DoesIo;
        Timeout = options.Timeout;
        Order = order;
        _clock = clock;
        _logger = logger;
        _faultLog = new LogInterval(clock);
    }

    internal MemoryBudget Budget { get; }

    internal IMemoryReclaimer Reclaimer { get; }

    internal string Domain { get; }

    internal int Cost { get; }

    internal bool DoesIo { get; }

    internal TimeSpan Timeout { get; }

    /// <summary>Registration order: the tie-break among equal costs.</summary>
    internal long Order { get; }

    /// <summary>
    /// Whether the flow's context lets this reclaimer run, and it is not backed off. A reclaimer busy with a call is
    /// eligible: busy is not empty, and a second caller joins the call in flight (see <see cref="Reclaim"/>).
    /// </summary>
    internal bool Eligible(AllocationContext? context)
    {
        if (context is not null && ((context.NoIo && DoesIo) || Array.IndexOf(context.NoReclaim, Domain) >= 0))
        {
            return false;
        }

        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Leaf, _sync);
            return !_backedOff || _clock.GetTimestamp() >= _backedOffUntil;
        }
    }

    /// <summary>Asks how much it could free; a throwing reclaimer counts as having nothing and is backed off.</summary>
    internal long Reclaimable()
    {
        try
        {
            return Math.Max(0, Reclaimer.GetReclaimableBytes());
        }
        catch (Exception e)
        {
            Fault(e); // any exception, OutOfMemoryException included: it is the reclaimer's, and must not stop reclaim
            return 0;
        }
    }

    /// <summary>
    /// Runs one call for <paramref name="target"/> bytes; returns what it really uncharged, and whether it asked to stop.
    /// With a finite timeout, a caller that finds a call in flight joins it instead: it waits for that call (up to the
    /// timeout) and reports what it freed meanwhile, so that the caller re-checks its charge before asking again.
    /// </summary>
    internal (long Freed, bool Stopped) Reclaim(long target, CancellationToken cancellationToken)
    {
        if (Timeout == System.Threading.Timeout.InfiniteTimeSpan)
        {
            var progress = new ReclaimProgress();
            try
            {
                return Finished(Call(AllocationContext.InReclaim(progress), target, cancellationToken), progress);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw; // the caller's cancellation, not the reclaimer's fault
            }
            catch (Exception e)
            {
                Fault(e); // any exception, OutOfMemoryException included: it is the reclaimer's, and must not stop reclaim
                return (progress.Uncharged, true);
            }
        }

        (InFlight call, bool joined) = JoinOrStart(target, cancellationToken);
        long before = joined ? call.Progress.Uncharged : 0;
        try
        {
            ReclaimResult result = call.Task.WaitAsync(Timeout, _clock, cancellationToken).GetAwaiter().GetResult();
            return joined ? (call.Progress.Uncharged - before, false) : Finished(result, call.Progress);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (TimeoutException)
        {
            if (joined)
            {
                return (call.Progress.Uncharged - before, true); // the call's owner reports and backs off
            }

            call.Abandon.Cancel(); // never disposed: a late call may still read its token
            Log.ReclaimerTimedOut(_logger, Domain, Budget.Name, Timeout, call.Progress.Uncharged);
            BackOff();
            return (call.Progress.Uncharged, true);
        }
        catch (Exception e)
        {
            if (!joined)
            {
                Fault(e);
            }

            return (call.Progress.Uncharged - before, true);
        }
    }

    /// <summary>A call that returned: checks its claim against what it really uncharged and clears the backoff.</summary>
    private (long Freed, bool Stopped) Finished(ReclaimResult result, ReclaimProgress progress)
    {
        long freed = progress.Uncharged;
        if (result.Freed > freed)
        {
            Log.ReclaimerOverclaimed(_logger, Domain, Budget.Name, result.Freed, freed);
        }

        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Leaf, _sync);
            _backedOff = false;
            _backoff = FirstBackoff;
        }

        return (freed, result.Stopped);
    }

    private ReclaimResult Call(AllocationContext context, long target, CancellationToken cancellationToken)
    {
        using var scope = new AllocationScope(context);
        try
        {
            return Reclaimer.Reclaim(target, cancellationToken);
        }
        finally
        {
            context.Reclaiming!.Close();
        }
    }

    /// <summary>
    /// The call in flight, joined; or a new one started on the thread pool, so that it can be abandoned after the
    /// timeout. It stays in flight until it returns, abandoned or not. The caller's token and the abandonment both reach it.
    /// </summary>
    private (InFlight Call, bool Joined) JoinOrStart(long target, CancellationToken cancellationToken)
    {
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Leaf, _sync);
            if (_inFlight is { Task.IsCompleted: false } running)
            {
                return (running, true);
            }

            var progress = new ReclaimProgress();
            AllocationContext context = AllocationContext.InReclaim(progress);
            var abandon = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            Task<ReclaimResult> task = Task.Run(() => Call(context, target, abandon.Token), CancellationToken.None);
            _ = task.ContinueWith(
                static finished => _ = finished.Exception, // an abandoned call's fault is observed here; a waited-for one is rethrown to the caller
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously | TaskContinuationOptions.OnlyOnFaulted,
                TaskScheduler.Default);
            _inFlight = new InFlight(task, progress, abandon);
            return (_inFlight, false);
        }
    }

    private void Fault(Exception e)
    {
        if (_faultLog.Allows())
        {
            Log.ReclaimerFailed(_logger, e, Domain, Budget.Name);
        }

        BackOff();
    }

    private void BackOff()
    {
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Leaf, _sync);
            _backedOff = true;
            _backedOffUntil = _clock.GetTimestamp() + (long)(_backoff.TotalSeconds * _clock.TimestampFrequency);
            _backoff = _backoff * 2 > MaxBackoff ? MaxBackoff : _backoff * 2;
        }
    }

    /// <summary>One call of the reclaimer running on the thread pool, with what it has uncharged so far.</summary>
    private sealed record InFlight(Task<ReclaimResult> Task, ReclaimProgress Progress, CancellationTokenSource Abandon);
}
