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
    /// <summary>Calls with a timeout still running, abandoned ones included: while any is, passes skip this reclaimer.</summary>
    private int _busy;

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

    /// <summary>Whether the flow's context lets this reclaimer run, and it is neither backed off nor still busy with an abandoned call.</summary>
    internal bool Eligible(AllocationContext? context)
    {
        if (context is not null && ((context.NoIo && DoesIo) || Array.IndexOf(context.NoReclaim, Domain) >= 0))
        {
            return false;
        }

        if (Volatile.Read(ref _busy) > 0)
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

    /// <summary>Runs one call for <paramref name="target"/> bytes; returns what it really uncharged, and whether it asked to stop.</summary>
    internal (long Freed, bool Stopped) Reclaim(long target)
    {
        var progress = new ReclaimProgress();
        AllocationContext context = AllocationContext.InReclaim(progress);
        ReclaimResult result;
        try
        {
            result = Timeout == System.Threading.Timeout.InfiniteTimeSpan ? Call(context, target, CancellationToken.None) : CallWithTimeout(context, target);
        }
        catch (TimeoutException)
        {
            Log.ReclaimerTimedOut(_logger, Domain, Budget.Name, Timeout, progress.Uncharged);
            BackOff();
            return (progress.Uncharged, true);
        }
        catch (Exception e)
        {
            Fault(e); // any exception, OutOfMemoryException included: it is the reclaimer's, and must not stop reclaim
            return (progress.Uncharged, true);
        }

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

    /// <summary>Runs the call on the thread pool and stops waiting after the timeout; an abandoned call keeps the reclaimer busy until it returns.</summary>
    private ReclaimResult CallWithTimeout(AllocationContext context, long target)
    {
        var abandon = new CancellationTokenSource();
        Interlocked.Increment(ref _busy);
        Task<ReclaimResult> call = Task.Run(() => Call(context, target, abandon.Token), CancellationToken.None);
        _ = call.ContinueWith(
            static (finished, state) =>
            {
                _ = finished.Exception; // an abandoned call's fault is observed here; a waited-for one is rethrown to the caller
                Interlocked.Decrement(ref ((Shrinker)state!)._busy);
            },
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);

        try
        {
            return call.WaitAsync(Timeout, _clock).GetAwaiter().GetResult();
        }
        catch (TimeoutException)
        {
            abandon.Cancel(); // never disposed: a late call may still read its token
            throw;
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
}
