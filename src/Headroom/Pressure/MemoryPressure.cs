using System.Globalization;
using Headroom.Pressure;

namespace Headroom;

/// <summary>
/// Pressure stall information for one budget, as Linux's PSI defines it for memory (<c>kernel/sched/psi.c</c>), computed
/// by Headroom from its own waiters. Read it from <see cref="MemoryBudget.Pressure"/>.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><b>some</b>: the share of wall time in which at least one charge or reservation of this budget or of a budget
/// below it was stalled: parked in a wait queue, from the moment it parks until it is granted, cancelled or fails, or
/// running direct reclaim for itself (Linux counts direct reclaim as a memory stall too).</item>
/// <item><b>full</b>: the share of wall time in which every consumer (<see cref="MemoryConsumer"/>) registered on this
/// budget or below it had at least one of its charges stalled (attributed through <see cref="MemoryConsumer.Enter"/>),
/// while some was stalled too: no unit of work made progress. While no consumer is registered there is nobody whose
/// progress could be measured, and full stays 0. Only parked charges count here: a consumer in direct reclaim is
/// doing the work that frees memory, and is counted in some alone.</item>
/// <item>The averages are psi's: every 2 s since the budget was made, the share of that period spent stalled (whole
/// percent) is folded into averages decayed over 10, 60 and 300 s with the kernel's fixed-point factors, computed
/// lazily on read. The total (µs) includes a stall in progress.</item>
/// <item>Time is the budget tree's <see cref="MemoryBudgetOptions.TimeProvider"/>, so a fake clock makes every figure exact.</item>
/// </list>
/// </remarks>
public sealed class MemoryPressure
{
    /// <summary>psi's WINDOW_MIN_US: the shortest trigger window.</summary>
    public static readonly TimeSpan MinWindow = TimeSpan.FromMilliseconds(500);

    /// <summary>psi's WINDOW_MAX_US: the longest trigger window.</summary>
    public static readonly TimeSpan MaxWindow = TimeSpan.FromSeconds(10);

    /// <summary>psi's UPDATES_PER_WINDOW: a trigger's growth is checked this many times per (shortest) window while stalls accrue.</summary>
    private const int PollsPerWindow = 10;

    private readonly object _sync = new();
    private readonly MemoryBudget _budget;
    private readonly TimeProvider _clock;
    private readonly long _origin;
    private readonly StallTime _some = new();
    private readonly StallTime _full = new();
    private StallTrigger[] _triggers = [];
    private ITimer? _poll;
    private long _pollPeriod;
    private long _pollUntil;
    private bool _polling;
    private long _polledSome;
    private long _polledFull;

    internal MemoryPressure(MemoryBudget budget, TimeProvider clock)
    {
        _budget = budget;
        _clock = clock;
        _origin = clock.GetTimestamp();
    }

    /// <summary>Gets the "some" share now: at least one charge of this budget's subtree stalled.</summary>
    public StallShare Some => ReadShare(_some);

    /// <summary>Gets the "full" share now: every registered consumer of this budget's subtree stalled at once (0 while none is registered).</summary>
    public StallShare Full => ReadShare(_full);

    /// <summary>Gets the number of consumers registered on this budget or below it: the units of work "full" is measured over.</summary>
    public int Consumers => Volatile.Read(ref ConsumerCount);

    /// <summary>Gets the number of charges and reservations of this budget's subtree parked in a wait queue now.</summary>
    public int StalledWaiters => Volatile.Read(ref StalledWaiterCount);

    /// <summary>Charges of this subtree parked now. Written under the tree's lock.</summary>
    internal int StalledWaiterCount;

    /// <summary>Consumers registered in this subtree. Written under the tree's lock.</summary>
    internal int ConsumerCount;

    /// <summary>Consumers registered in this subtree with a charge parked now. Written under the tree's lock.</summary>
    internal int StalledConsumerCount;

    /// <summary>Charges of this subtree in direct reclaim now (psi_memstall_enter around direct reclaim). Changed with interlocked adds, without the tree's lock.</summary>
    internal int ReclaimingCount;

    /// <summary>
    /// Reads both shares at one instant, with the kernel's own figures beside them for a budget made by
    /// <see cref="MemoryBudget.ForProcess(ProcessBudgetOptions?)"/> (<c>/proc/pressure/memory</c> and the process's
    /// cgroup <c>memory.pressure</c>, read now).
    /// </summary>
    /// <returns>The reading; what could not be read is listed in <see cref="PressureReading.Unavailable"/>.</returns>
    public PressureReading Read()
    {
        StallShare some, full;
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Leaf, _sync);
            long now = Now();
            some = _some.Read(now);
            full = _full.Read(now);
        }

        var unavailable = new List<string>();
        KernelPressure? system = null, group = null;
        if (_budget.ProcessLimit is { } limit)
        {
            (system, group) = KernelPressure.Read(limit, unavailable);
        }
        else
        {
            unavailable.Add("kernel pressure: read only for the process budget (MemoryBudget.ForProcess)");
        }

        return new PressureReading(_budget.Name, _clock.GetUtcNow(), some, full, Consumers, StalledWaiters, system, group, unavailable);
    }

    /// <summary>
    /// Adds a trigger, as one is written to <c>/proc/pressure/memory</c>: <paramref name="onPressure"/> is called when
    /// the <paramref name="kind"/> state stalled at least <paramref name="threshold"/> within <paramref name="window"/>,
    /// at most once per window.
    /// </summary>
    /// <param name="kind">The state to watch.</param>
    /// <param name="threshold">The stall time within the window that fires the trigger; positive and not above <paramref name="window"/>.</param>
    /// <param name="window">The window; from <see cref="MinWindow"/> (500 ms) to <see cref="MaxWindow"/> (10 s), as psi allows.</param>
    /// <param name="onPressure">
    /// Called on a timer of the tree's clock, outside every lock of the library. Growth is checked ten times per
    /// window while stalls accrue (psi's rate), so it fires within a tenth of a window of the crossing. An exception
    /// from it is logged and swallowed.
    /// </param>
    /// <returns>The registration; dispose it to remove the trigger.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The window or the threshold is outside its range; the message names the value and the rule.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="onPressure"/> is null.</exception>
    public IDisposable AddTrigger(StallKind kind, TimeSpan threshold, TimeSpan window, Action<PressureEvent> onPressure)
    {
        if (kind is not (StallKind.Some or StallKind.Full))
        {
            throw new ArgumentOutOfRangeException(nameof(kind), kind, $"A trigger watches StallKind.Some or StallKind.Full; it was {kind}.");
        }

        if (window < MinWindow || window > MaxWindow)
        {
            throw new ArgumentOutOfRangeException(nameof(window), window, $"A trigger's window must be from {MinWindow.TotalMilliseconds} ms to {MaxWindow.TotalSeconds} s, as psi allows; it was {window}.");
        }

        if (threshold <= TimeSpan.Zero || threshold > window)
        {
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, $"A trigger's threshold must be positive and not above its window ({window}); it was {threshold}.");
        }

        ArgumentNullException.ThrowIfNull(onPressure);
        var trigger = new StallTrigger(kind, threshold.Ticks, window.Ticks, onPressure);

        // The clock is the caller's code: its timer is made outside the lock, and a spare one (a race) disposed after.
        ITimer? spare = Volatile.Read(ref _poll) is null
            ? NewPollTimer()
            : null;
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Leaf, _sync);
            if (_poll is null && spare is not null)
            {
                _poll = spare;
                spare = null;
            }

            _poll ??= NewPollTimer(); // removed meanwhile
            long now = Now();
            trigger.Reset(now, Totals(now, kind));
            _triggers = [.. _triggers, trigger];
            _pollPeriod = _triggers.Min(static t => t.Window) / PollsPerWindow;
            if (_polling)
            {
                _poll.Change(TimeSpan.FromTicks(_pollPeriod), TimeSpan.FromTicks(_pollPeriod));
            }
            else if ((kind == StallKind.Some ? _some : _full).IsStalled)
            {
                StartPolling(now); // a stall in progress: it is watched from now on, not from its next change
            }
        }

        spare?.Dispose();
        return new Registration(this, trigger);
    }

    /// <summary>
    /// Adds a trigger written as for <c>/proc/pressure/memory</c>: <c>"some 150000 1000000"</c> is 150 ms of "some"
    /// stall within a 1 s window (both in microseconds).
    /// </summary>
    /// <param name="trigger">"some" or "full", the threshold and the window in microseconds, separated by spaces.</param>
    /// <param name="onPressure">Called as for <see cref="AddTrigger(StallKind, TimeSpan, TimeSpan, Action{PressureEvent})"/>.</param>
    /// <returns>The registration; dispose it to remove the trigger.</returns>
    /// <exception cref="ArgumentException">The text is not of that form; the message quotes it.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The window or the threshold is outside its range.</exception>
    public IDisposable AddTrigger(string trigger, Action<PressureEvent> onPressure)
    {
        ArgumentNullException.ThrowIfNull(trigger);
        string[] words = trigger.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        StallKind? kind = words.Length == 3 ? words[0] switch { "some" => StallKind.Some, "full" => StallKind.Full, _ => null } : null;
        if (kind is null
            || !long.TryParse(words[1], NumberStyles.None, CultureInfo.InvariantCulture, out long thresholdUs)
            || !long.TryParse(words[2], NumberStyles.None, CultureInfo.InvariantCulture, out long windowUs)
            || thresholdUs > TimeSpan.MaxValue.Ticks / 10 || windowUs > TimeSpan.MaxValue.Ticks / 10)
        {
            throw new ArgumentException($"A trigger is written \"<some|full> <threshold µs> <window µs>\", for example \"some 150000 1000000\"; it was \"{trigger}\".", nameof(trigger));
        }

        return AddTrigger(kind.Value, TimeSpan.FromMicroseconds(thresholdUs), TimeSpan.FromMicroseconds(windowUs), onPressure);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{_budget.Name}: some {Some}, full {Full}";

    /// <summary>
    /// The stall counts of this level changed (under the tree's lock, at <paramref name="timestamp"/> of the tree's
    /// clock): some and full begin or end, and triggers start watching.
    /// </summary>
    internal void Refresh(long timestamp)
    {
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Leaf, _sync);

            // Read under this lock: every change of a count is followed by a refresh, and the refreshes are serialised
            // here, so the last one sees every change before it, whether it came under the tree's lock or not.
            bool some = Volatile.Read(ref StalledWaiterCount) > 0 || Volatile.Read(ref ReclaimingCount) > 0;
            bool full = Volatile.Read(ref StalledWaiterCount) > 0 && ConsumerCount > 0 && StalledConsumerCount >= ConsumerCount;
            long now = Ticks(timestamp);
            bool changed = some != _some.IsStalled || full != _full.IsStalled;
            _some.Set(now, some);
            _full.Set(now, full);
            if (changed && _triggers.Length != 0)
            {
                StartPolling(now);
            }
        }
    }

    /// <summary>The poll timer, made disarmed and without the caller's execution context.</summary>
    private ITimer NewPollTimer() =>
        Detached.Start(() => _clock.CreateTimer(static state => ((MemoryPressure)state!).Poll(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan));

    /// <summary>Ticks (100 ns) of the tree's clock since this budget was made.</summary>
    private long Ticks(long timestamp) => (long)((Int128)(timestamp - _origin) * TimeSpan.TicksPerSecond / _clock.TimestampFrequency);

    private long Now() => Ticks(_clock.GetTimestamp());

    private long Totals(long now, StallKind kind) => kind == StallKind.Some ? _some.Total(now) : _full.Total(now);

    private StallShare ReadShare(StallTime state)
    {
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Leaf, _sync);
            return state.Read(Now());
        }
    }

    /// <summary>psi's polling mode: entered on a change of state, each trigger's window starting now; it lasts a window past the last growth. Caller holds <see cref="_sync"/>.</summary>
    private void StartPolling(long now)
    {
        if (!_polling)
        {
            _polling = true;
            _polledSome = _some.Total(now);
            _polledFull = _full.Total(now);
            foreach (StallTrigger trigger in _triggers)
            {
                trigger.Reset(now, Totals(now, trigger.Kind));
            }

            _poll!.Change(TimeSpan.FromTicks(_pollPeriod), TimeSpan.FromTicks(_pollPeriod));
        }

        _pollUntil = now + (_pollPeriod * PollsPerWindow);
    }

    /// <summary>The poll timer's tick: each trigger's growth, and its callback outside the lock when it fires.</summary>
    private void Poll()
    {
        List<(StallTrigger Trigger, PressureEvent Event)>? fired = null;
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Leaf, _sync);
            if (!_polling)
            {
                return;
            }

            long now = Now();
            long some = _some.Total(now);
            long full = _full.Total(now);
            if (some != _polledSome || full != _polledFull)
            {
                _pollUntil = now + (_pollPeriod * PollsPerWindow);
            }

            if (now > _pollUntil || _triggers.Length == 0)
            {
                _polling = false; // quiet for a window: no more ticks until the next change
                _poll?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                return;
            }

            DateTimeOffset time = _clock.GetUtcNow();
            foreach (StallTrigger trigger in _triggers)
            {
                (long total, long polled) = trigger.Kind == StallKind.Some ? (some, _polledSome) : (full, _polledFull);
                if (trigger.Poll(now, total, grew: total != polled) is { } stalled)
                {
                    (fired ??= []).Add((trigger, new PressureEvent(
                        _budget.Name, trigger.Kind, TimeSpan.FromTicks(stalled), TimeSpan.FromTicks(trigger.Threshold), TimeSpan.FromTicks(trigger.Window), time)));
                }
            }

            _polledSome = some;
            _polledFull = full;
        }

        foreach ((StallTrigger trigger, PressureEvent e) in fired ?? [])
        {
            try
            {
                trigger.OnPressure(e);
            }
            catch (Exception exception)
            {
                Diagnostics.Log.PressureCallbackFailedNoThrow(_budget.Tree.Logger, exception, _budget.Name, e.Kind);
            }
        }
    }

    private void Remove(StallTrigger trigger)
    {
        ITimer? stopped = null;
        lock (_sync)
        {
            LockOrder.Entered(LockLevel.Leaf, _sync);
            _triggers = [.. _triggers.Where(t => t != trigger)];
            if (_triggers.Length == 0)
            {
                _polling = false;
                stopped = _poll;
                _poll = null;
            }
            else
            {
                _pollPeriod = _triggers.Min(static t => t.Window) / PollsPerWindow;
            }
        }

        stopped?.Dispose();
    }

    private sealed class Registration(MemoryPressure pressure, StallTrigger trigger) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                pressure.Remove(trigger);
            }
        }
    }
}
