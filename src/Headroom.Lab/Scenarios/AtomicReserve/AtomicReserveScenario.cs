using System.Buffers;
using System.Diagnostics;
using Headroom.Lab.Report;
using Headroom.Lab.Running;
using Headroom.Lab.Scenarios.Common;

namespace Headroom.Lab.Scenarios.AtomicReserve;

/// <summary>
/// Scenario 5, GFP_ATOMIC: an interrupt-like thread makes charges that cannot block (NoWait, High: they may use 62.5 %
/// of the min reserve) every millisecond while worker threads hold a working set at the edge of what ordinary MayFail
/// charges may take, and keep it there.
/// <c>with-reserve</c> runs on the default watermarks: ordinary charges stop at Min, so the reserve below it is there
/// for the interrupt. <c>no-reserve</c> sets the min watermark to 0 and keeps Low and High where they were: the same
/// code, with nothing set aside.
/// </summary>
/// <remarks>
/// The workers hold memory rather than churn it: memory a worker gives back sits parked in its thread's cache (or in a
/// stock) until something takes it, and parked memory is given back before any refusal (semantics §9), so churn is a
/// reserve of its own that the interrupt finds in either policy. Each step a worker asks for one more buffer; refused,
/// it gives back its oldest buffer and takes one of the same size at once, from its own cache, so that what it holds
/// stays at the edge. Their sizes (4 to 64 KiB) fill the gaps below the edge that a single large size would leave.
/// The interrupt runs on a thread of its own, not on the thread pool, whose threads the run's own waits may hold.
/// </remarks>
internal sealed class AtomicReserveScenario : IScenario
{
    private const long DefaultCapacity = 16L << 20;
    private const int SmallestWorkerBuffer = 4 << 10;
    private const int WorkerBufferClasses = 5; // 4, 8, 16, 32 and 64 KiB
    private const int AtomicBuffer = 16 << 10;
    private const string WorkerRefusals = "workerRefusals"; // first recorded when the workers hold all they may

    public string Name => FigureNames.AtomicReserve;

    public string Title => "Atomic allocations and the min reserve (GFP_ATOMIC)";

    public string Why =>
        "Code that runs in interrupt context cannot sleep, so it cannot wait for reclaim: Linux keeps the memory below the " +
        "min watermark for such callers and lets GFP_ATOMIC take 62.5 % of it. Here an interrupt-like thread charges NoWait " +
        "with High priority every millisecond while workers keep the budget as full as ordinary charges may make it; the " +
        "question is how often it is refused with the reserve and without it.";

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
        threads.Start("irq", () => irq.Run(Done));
        try
        {
            await Task.Run(() => threads.JoinAll(run.Settings.Duration + TimeSpan.FromSeconds(30)), CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.Run(() => threads.JoinAll(TimeSpan.FromSeconds(30)), CancellationToken.None).ConfigureAwait(false);
        }

        run.Figure(FigureNames.AtomicAttempts, irq.Attempts);
        run.Figure(FigureNames.AtomicFailures, irq.Failures);
        run.Figure("atomicFailureRate", irq.Attempts == 0 ? 0 : (double)irq.Failures / irq.Attempts);
        run.Figure("atomicAttemptsAtEdge", irq.AttemptsAtEdge);
        run.Figure("atomicFailuresAtEdge", irq.FailuresAtEdge);
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
                int size = SmallestWorkerBuffer << random.Next(WorkerBufferClasses);
                bool grown = false;
                if (holding + size <= limit)
                {
                    run.Activity($"worker-{worker}", $"charging {size >> 10} KiB MayFail, holding {holding >> 10} KiB");
                    if (budget.TryRent(size, out IMemoryOwner<byte>? buffer, AllocationMode.MayFail, site: "worker"))
                    {
                        buffer.Memory.Span[0] = (byte)ops;
                        held.Enqueue(buffer);
                        holding += size;
                        grown = true;
                    }
                    else
                    {
                        run.AddFigure(WorkerRefusals, 1);
                    }
                }

                if (!grown && held.TryDequeue(out IMemoryOwner<byte>? oldest))
                {
                    // At the edge: renew the oldest entry, as a cache replaces its coldest. Given back and taken at once
                    // on this thread, it comes straight back from this thread's cache, so the budget stays as full.
                    int length = oldest.Memory.Length;
                    oldest.Dispose();
                    holding -= length;
                    run.Activity($"worker-{worker}", $"renewing {length >> 10} KiB MayFail, holding {holding >> 10} KiB");
                    if (budget.TryRent(length, out IMemoryOwner<byte>? renewed, AllocationMode.MayFail, site: "worker"))
                    {
                        renewed.Memory.Span[0] = (byte)ops;
                        held.Enqueue(renewed);
                        holding += length;
                    }
                    else
                    {
                        run.AddFigure(WorkerRefusals, 1); // the interrupt took the room meanwhile: the set is one smaller
                    }
                }

                if (++ops % 32 == 0)
                {
                    Thread.Sleep(1); // the workers do other things too; the interrupt must get a core
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

    /// <summary>The interrupt's charges: each holds its buffer until the next tick, as a packet waits to be handed on.</summary>
    private sealed class Interrupts(MemoryBudget budget, PolicyRun run)
    {
        private long _attempts;
        private long _failures;
        private long _attemptsAtEdge;
        private long _failuresAtEdge;

        public long Attempts => Interlocked.Read(ref _attempts);

        public long Failures => Interlocked.Read(ref _failures);

        /// <summary>Gets the attempts made once an ordinary charge had been refused: the workers hold all they may.</summary>
        public long AttemptsAtEdge => Interlocked.Read(ref _attemptsAtEdge);

        /// <summary>Gets the refusals among <see cref="AttemptsAtEdge"/>.</summary>
        public long FailuresAtEdge => Interlocked.Read(ref _failuresAtEdge);

        /// <summary>Ticks every millisecond until <paramref name="done"/>, then gives back the buffer it holds.</summary>
        public void Run(Func<bool> done)
        {
            IMemoryOwner<byte>? previous = null;
            try
            {
                while (!done())
                {
                    bool atEdge = run.Figures.ContainsKey(WorkerRefusals);

                    // The new buffer is asked for while the previous one is still held: given back first, it would be
                    // parked in this thread's cache and handed straight back, and the charge would never meet the budget.
                    Interlocked.Increment(ref _attempts);
                    if (atEdge)
                    {
                        Interlocked.Increment(ref _attemptsAtEdge);
                    }

                    if (budget.TryRent(AtomicBuffer, out IMemoryOwner<byte>? buffer, AllocationMode.NoWait, AllocationPriority.High, site: "irq"))
                    {
                        buffer.Memory.Span[0] = 1;
                    }
                    else
                    {
                        Interlocked.Increment(ref _failures);
                        if (atEdge)
                        {
                            Interlocked.Increment(ref _failuresAtEdge);
                        }

                        run.Activity("irq", "an interrupt-like charge was refused");
                    }

                    previous?.Dispose();
                    previous = buffer;
                    Thread.Sleep(1);
                }
            }
            finally
            {
                previous?.Dispose();
            }
        }
    }
}
