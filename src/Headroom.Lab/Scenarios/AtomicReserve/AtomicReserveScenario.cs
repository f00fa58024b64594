using System.Buffers;
using System.Diagnostics;
using Headroom.Lab.Report;
using Headroom.Lab.Running;
using Headroom.Lab.Scenarios.Common;

namespace Headroom.Lab.Scenarios.AtomicReserve;

/// <summary>
/// Scenario 5, GFP_ATOMIC: a timer makes interrupt-like charges (NoWait, High: they cannot block, and may use 62.5 %
/// of the min reserve) every millisecond while worker threads keep the budget full with ordinary MayFail charges, shrinking like a cache when refused.
/// <c>with-reserve</c> runs on the default watermarks: ordinary charges stop at Min, so the reserve below it is there
/// for the timer. <c>no-reserve</c> sets the min watermark to 0 and keeps Low and High where they were: the same code,
/// with nothing set aside.
/// </summary>
internal sealed class AtomicReserveScenario : IScenario
{
    private const long DefaultCapacity = 16L << 20;
    private const int WorkerBuffer = 64 << 10;
    private const int AtomicBuffer = 16 << 10;

    public string Name => FigureNames.AtomicReserve;

    public string Title => "Atomic allocations and the min reserve (GFP_ATOMIC)";

    public string Why =>
        "Code that runs in interrupt context cannot sleep, so it cannot wait for reclaim: Linux keeps the memory below the " +
        "min watermark for such callers and lets GFP_ATOMIC take 62.5 % of it. Here a timer charges NoWait with High " +
        "priority every millisecond while workers fill the budget; the question is how often it is refused with the " +
        "reserve and without it.";

    public IReadOnlyList<string> Variants => [];

    public IReadOnlyList<string> Policies => ["with-reserve", "no-reserve"];

    public async Task RunAsync(PolicyRun run, CancellationToken cancellationToken)
    {
        bool reserve = run.Policy switch
        {
            "with-reserve" => true,
            "no-reserve" => false,
            _ => throw new ArgumentOutOfRangeException(nameof(run), run.Policy, $"Unknown policy of {Name}."),
        };

        long capacity = run.Settings.Capacity ?? DefaultCapacity;
        long targetOps = (long)Math.Max(1, run.Settings.Size * 500_000);
        var options = new MemoryBudgetOptions { Name = "zone", Capacity = capacity, CanaryInterval = TimeSpan.FromMilliseconds(250) };
        if (!reserve)
        {
            using var defaults = new MemoryBudget(new MemoryBudgetOptions { Capacity = capacity });
            options.MinWatermark = 0;
            options.LowWatermark = defaults.LowWatermark;
            options.HighWatermark = defaults.HighWatermark;
        }

        using MemoryBudget budget = run.CreateBudget(options);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var threads = new Workers(stop.Token);
        var clock = Stopwatch.StartNew();
        bool Done() => stop.IsCancellationRequested || clock.Elapsed >= run.Settings.Duration || run.Operations >= targetOps;

        // Together the workers want 10 % more than the capacity, so memory stays as full as ordinary charges may make it.
        long perWorker = capacity * 11 / 10 / run.Settings.Threads;
        for (int w = 0; w < run.Settings.Threads; w++)
        {
            int worker = w;
            threads.Start($"worker-{worker}", () => Work(run, budget, worker, perWorker, Done));
        }

        var irq = new Interrupts(budget, run);
        await using (var timer = new Timer(_ => irq.Tick(), null, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(1)))
        {
            try
            {
                await Task.Run(() => threads.JoinAll(run.Settings.Duration + TimeSpan.FromSeconds(30)), CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                await stop.CancelAsync().ConfigureAwait(false);
                await Task.Run(() => threads.JoinAll(TimeSpan.FromSeconds(30)), CancellationToken.None).ConfigureAwait(false);
            }
        }

        irq.Dispose();
        run.Figure(FigureNames.AtomicAttempts, irq.Attempts);
        run.Figure(FigureNames.AtomicFailures, irq.Failures);
        run.Figure("atomicFailureRate", irq.Attempts == 0 ? 0 : (double)irq.Failures / irq.Attempts);
    }

    private static void Work(PolicyRun run, MemoryBudget budget, int worker, long limit, Func<bool> done)
    {
        Random random = run.NewRandom(worker);
        var held = new Queue<IMemoryOwner<byte>>();
        long holding = 0;
        long ops = 0;
        try
        {
            while (!done())
            {
                long started = PolicyRun.Start();
                int count = random.Next(2, 9);
                while (holding + ((long)count * WorkerBuffer) > limit && held.TryDequeue(out IMemoryOwner<byte>? oldest))
                {
                    oldest.Dispose(); // give back before asking again: no hold-and-wait among the workers
                    holding -= WorkerBuffer;
                }

                run.Activity($"worker-{worker}", $"charging {count} × {WorkerBuffer >> 10} KiB MayFail, holding {holding >> 10} KiB");
                for (int i = 0; i < count; i++)
                {
                    IMemoryOwner<byte>? buffer;
                    while (!budget.TryRent(WorkerBuffer, out buffer, AllocationMode.MayFail, site: "worker"))
                    {
                        // Memory is as full as ordinary charges may make it: give back the oldest buffer, as a cache
                        // shrinks by a little, and take the room at once.
                        run.AddFigure("workerRefusals", 1);
                        if (!held.TryDequeue(out IMemoryOwner<byte>? oldest))
                        {
                            break;
                        }

                        oldest.Dispose();
                        holding -= WorkerBuffer;
                    }

                    if (buffer is null)
                    {
                        break;
                    }

                    buffer.Memory.Span[0] = (byte)i;
                    held.Enqueue(buffer);
                    holding += WorkerBuffer;
                }

                if (++ops % 32 == 0)
                {
                    Thread.Sleep(1); // the workers do other things too; the timer must get a core
                }

                run.Completed(started);
            }
        }
        finally
        {
            while (held.TryDequeue(out IMemoryOwner<byte>? buffer))
            {
                buffer.Dispose();
            }
        }
    }

    /// <summary>The timer's charges: each holds its buffer until the next tick, as a packet waits to be handed on.</summary>
    private sealed class Interrupts(MemoryBudget budget, PolicyRun run) : IDisposable
    {
        private IMemoryOwner<byte>? _previous;
        private int _inTick;
        private long _attempts;
        private long _failures;
        private bool _disposed;

        public long Attempts => Interlocked.Read(ref _attempts);

        public long Failures => Interlocked.Read(ref _failures);

        public void Tick()
        {
            if (Interlocked.Exchange(ref _inTick, 1) != 0)
            {
                return; // an interrupt handler does not nest
            }

            try
            {
                if (_disposed)
                {
                    return;
                }

                // The new buffer is asked for while the previous one is still held: given back first, it would be
                // parked in this thread's cache and handed straight back, and the charge would never meet the budget.
                Interlocked.Increment(ref _attempts);
                if (budget.TryRent(AtomicBuffer, out IMemoryOwner<byte>? buffer, AllocationMode.NoWait, AllocationPriority.High, site: "irq"))
                {
                    buffer.Memory.Span[0] = 1;
                }
                else
                {
                    Interlocked.Increment(ref _failures);
                    run.Activity("timer", "an interrupt-like charge was refused");
                }

                _previous?.Dispose();
                _previous = buffer;
            }
            finally
            {
                Volatile.Write(ref _inTick, 0);
            }
        }

        /// <summary>Called after the timer was disposed and its callbacks finished.</summary>
        public void Dispose()
        {
            _disposed = true;
            _previous?.Dispose();
            _previous = null;
        }
    }
}
