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

    internal Shrinker(MemoryBudget budget, ReclaimerCall reclaimer, ReclaimerOptions options, long order, TimeProvider clock, ILogger logger)
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

    internal ReclaimerCall Reclaimer { get; }

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
    /// Runs one call for <paramref name="target"/> bytes in the calling thread's way; returns what it really uncharged,
    /// and whether it asked to stop. With a finite timeout (or an asynchronous reclaimer) the call runs on the thread
    /// pool, and a caller that finds a call in flight joins it instead: it waits for that call (up to the timeout) and
    /// reports what it freed meanwhile, so that the caller re-checks its charge before asking again.
    /// </summary>
    internal (long Freed, bool Stopped) Reclaim(long target, CancellationToken cancellationToken)
    {
        if (Timeout == System.Threading.Timeout.InfiniteTimeSpan && !Reclaimer.IsAsync)
        {
            var progress = new ReclaimProgress();
            try
            {
                return Finished(Call(AllocationContext.InReclaim(progress), target, cancellationToken), progress);
            }
            catch (Exception e)
            {
                return Failed(e, progress, joined: false, before: 0, abandon: null, cancellationToken);
            }
        }

        (InFlight call, bool joined) = JoinOrStart(target, cancellationToken);
        long before = joined ? call.Progress.Uncharged : 0;
        ReclaimResult result;
        try
        {
#pragma warning disable RS0030 // the synchronous path: its caller chose to block, and the call it waits for never needs its thread
            result = call.Task.WaitAsync(Timeout, _clock, cancellationToken).GetAwaiter().GetResult();
#pragma warning restore RS0030
        }
        catch (Exception e)
        {
            return Failed(e, call.Progress, joined, before, call.Abandon, cancellationToken);
        }

        return joined ? (call.Progress.Uncharged - before, false) : Finished(result, call.Progress);
    }

    /// <summary>The asynchronous twin of <see cref="Reclaim"/>: the caller awaits the call, or the call in flight; no thread waits.</summary>
    internal async ValueTask<(long Freed, bool Stopped)> ReclaimAsync(long target, CancellationToken cancellationToken)
    {
        if (Timeout == System.Threading.Timeout.InfiniteTimeSpan)
        {
            var progress = new ReclaimProgress();
            try
            {
                return Finished(await CallAsync(AllocationContext.InReclaim(progress), target, cancellationToken).ConfigureAwait(false), progress);
            }
            catch (Exception e)
            {
                return Failed(e, progress, joined: false, before: 0, abandon: null, cancellationToken);
            }
        }

        (InFlight call, bool joined) = JoinOrStart(target, cancellationToken);
        long before = joined ? call.Progress.Uncharged : 0;
        ReclaimResult result;
        try
        {
            result = await call.Task.WaitAsync(Timeout, _clock, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            return Failed(e, call.Progress, joined, before, call.Abandon, cancellationToken);
        }

        return joined ? (call.Progress.Uncharged - before, false) : Finished(result, call.Progress);
    }

    /// <summary>
    /// A call that threw, or was not waited for to its end. The caller's cancellation is rethrown; a timeout abandons
    /// the call; anything else is the reclaimer's fault (OutOfMemoryException included: it must not stop reclaim).
    /// Only the call's owner reports and backs off; a joiner just stops asking for this pass.
    /// </summary>
    private (long Freed, bool Stopped) Failed(Exception e, ReclaimProgress progress, bool joined, long before, CancellationTokenSource? abandon, CancellationToken cancellationToken)
    {
        if (e is OperationCanceledException && cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(e.Message, e, cancellationToken); // the caller's cancellation, not a fault
        }

        if (!joined)
        {
            if (e is TimeoutException && abandon is not null)
            {
                abandon.Cancel(); // never disposed: a late call may still read its token
                Log.ReclaimerTimedOut(_logger, Domain, Budget.Name, Timeout, progress.Uncharged);
                BackOff();
            }
            else
            {
                Fault(e);
            }
        }

        return (progress.Uncharged - before, true);
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
            Budget.ObserveReclaim(Reclaimer.Target, Domain, target, context.Reclaiming.Uncharged); // once per call, abandoned or not, when its progress is final
        }
    }

    private async Task<ReclaimResult> CallAsync(AllocationContext context, long target, CancellationToken cancellationToken)
    {
        using var scope = new AllocationScope(context); // flows with the call's awaits; restored when it returns
        try
        {
            return await Reclaimer.ReclaimAsync(target, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            context.Reclaiming!.Close();
            Budget.ObserveReclaim(Reclaimer.Target, Domain, target, context.Reclaiming.Uncharged); // once per call, abandoned or not, when its progress is final
        }
    }

    /// <summary>
    /// The call in flight, joined; or a new one started on the thread pool, so that it can be abandoned after the
    /// timeout. It stays in flight until it returns, abandoned or not. The caller's token and the abandonment both
    /// reach it (a joiner's token ends only the joiner's wait).
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
            Task<ReclaimResult> task = Reclaimer.IsAsync
                ? Task.Run(() => CallAsync(context, target, abandon.Token), CancellationToken.None)
                : Task.Run(() => Call(context, target, abandon.Token), CancellationToken.None);
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
