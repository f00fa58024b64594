using System.Buffers;
using System.Diagnostics;
using Headroom.Lab.Report;
using Headroom.Lab.Running;
using Headroom.Lab.Scenarios.Common;

namespace Headroom.Lab.Scenarios.OomLockDeadlock;

/// <summary>
/// Scenario 3, the December 2014 report. Each operation is one round: a hog (the biggest consumer) fills memory and
/// then needs lock L to exit; the allocator takes L and charges NoFail; nothing is reclaimable, so the OOM killer
/// chooses the hog, which cannot exit while the allocator holds L. Its wait for L ignores the kill, as a task blocked
/// uninterruptibly on a lock does. Two bystanders hold some memory each and exit at once when killed.
/// <list type="bullet">
/// <item><c>single-victim</c>: the 2014 kernel, one victim at a time and no timeout (OomOptions takes no infinite
/// KillTimeout, so a day stands for it): the round never ends, and the watchdog says so.</item>
/// <item><c>kill-timeout</c>: Weiner's proposal, scaled down: <see cref="OomOptions.KillTimeout"/> of 200 ms, after
/// which the killer gives up on the hog and chooses the next victim, a bystander.</item>
/// <item><c>reaper</c>: Linux 4.6: the hog registered its memory with <see cref="MemoryConsumer.RegisterReapable"/>, so
/// the kill releases it without the hog's cooperation.</item>
/// <item><c>reservation</c>: the allocator reserves (<see cref="MemoryBudget.ReserveAsync"/>) before it takes L and
/// charges inside the reservation, so nothing it does under L waits for memory.</item>
/// </list>
/// </summary>
internal sealed class OomLockDeadlockScenario : IScenario
{
    private const long DefaultCapacity = 64L << 20;
    private const int Chunk = 256 << 10;
    private const int Bystanders = 2;

    public string Name => FigureNames.OomLockDeadlock;

    public string Title => "The OOM killer and the lock (December 2014)";

    public string Why =>
        "In December 2014 a machine locked up: a task holding a lock looped in the allocator, the OOM killer chose a victim " +
        "that was waiting for that same lock, and since the killer takes one victim at a time nothing moved again. Weiner " +
        "proposed a timeout after which the next victim is chosen, Linux 4.6 added the OOM reaper, which frees a victim's " +
        "memory without its help, and Chinner argued for reservations made before the lock is taken.";

    public IReadOnlyList<string> Variants => [];

    public IReadOnlyList<string> Policies => [FigureNames.SingleVictim, FigureNames.KillTimeout, FigureNames.Reaper, FigureNames.Reservation];

    public TimeSpan StallAfter => TimeSpan.FromSeconds(1.5);

    public async Task RunAsync(PolicyRun run, CancellationToken cancellationToken)
    {
        TimeSpan killTimeout = run.Policy switch
        {
            FigureNames.SingleVictim => TimeSpan.FromDays(1),
            FigureNames.KillTimeout => TimeSpan.FromMilliseconds(200),
            FigureNames.Reaper or FigureNames.Reservation => new OomOptions().KillTimeout,
            _ => throw new ArgumentOutOfRangeException(nameof(run), run.Policy, $"Unknown policy of {Name}."),
        };

        long capacity = run.Settings.Capacity ?? DefaultCapacity;
        long request = capacity / 16;
        long bystanderBytes = capacity * 3 / 32;
        long targetRounds = (long)Math.Max(1, run.Settings.Size * 2_000);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using MemoryBudget budget = run.CreateBudget(new MemoryBudgetOptions
        {
            Name = "machine",
            Capacity = capacity,
            CanaryInterval = TimeSpan.FromMilliseconds(250),
            Oom = new OomOptions { KillTimeout = killTimeout },
        });

        var state = new Round(run);
        budget.OutOfMemory += (_, report) => state.Killed(report);
        var threads = new Workers(stop.Token);
        var clock = Stopwatch.StartNew();
        var bystanders = new Bystander[Bystanders];
        for (int i = 0; i < Bystanders; i++)
        {
            bystanders[i] = new Bystander($"bystander-{i}");
            Bystander b = bystanders[i];
            threads.Start(b.Name, () => b.Live(run, budget, bystanderBytes, stop.Token));
        }

        var hog = new Hog(run, budget, state, reapable: run.Policy == FigureNames.Reaper);
        threads.Start("hog", () => hog.Live(stop.Token));

        try
        {
            foreach (Bystander b in bystanders)
            {
                await b.Ready.WaitAsync(stop.Token).ConfigureAwait(false);
            }

            while (!stop.IsCancellationRequested && clock.Elapsed < run.Settings.Duration && run.Operations < targetRounds)
            {
                long started = PolicyRun.Start();
                state.Begin();
                foreach (Bystander b in bystanders.Where(b => b.Down))
                {
                    b.Down = false;
                    b.Refill.Release();
                    await b.Ready.WaitAsync(stop.Token).ConfigureAwait(false);
                }

                while (state.Go.Wait(0, CancellationToken.None))
                {
                    // a go left over from a round whose hog was killed before its turn
                }

                hog.Start.Release();
                run.Activity("allocator", "waiting for the hog to fill memory");
                await hog.Filled.WaitAsync(stop.Token).ConfigureAwait(false);
                await AllocateAsync(run, budget, state, request, stop.Token).ConfigureAwait(false);
                run.Activity("allocator", "waiting for the hog to exit");
                await hog.Exited.WaitAsync(stop.Token).ConfigureAwait(false);
                run.Completed(started);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // the watchdog declared a stall (single-victim) or the run's deadline came: unwind
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.Run(() => threads.JoinAll(TimeSpan.FromSeconds(30)), CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static async Task AllocateAsync(PolicyRun run, MemoryBudget budget, Round state, long request, CancellationToken stop)
    {
        MemoryReservation? reservation = null;
        try
        {
            if (run.Policy == FigureNames.Reservation)
            {
                run.Activity("allocator", $"reserving {request >> 20} MiB before taking L");
                reservation = await budget.ReserveAsync(request, cancellationToken: stop).ConfigureAwait(false);
            }

            run.Activity("allocator", "taking L");
            await state.L.WaitAsync(stop).ConfigureAwait(false);
            state.Holder = "allocator";
            try
            {
                state.Go.Release();
                run.Activity("allocator", $"holds L; charging {request >> 20} MiB NoFail{(reservation is null ? string.Empty : " inside its reservation")}");
                using (reservation?.Enter())
                {
                    using IMemoryOwner<byte> buffer = await budget.RentAsync((int)request, AllocationMode.NoFail, site: "under-L", cancellationToken: stop).ConfigureAwait(false);
                    buffer.Memory.Span.Fill(1);
                }
            }
            finally
            {
                state.Holder = null;
                state.L.Release();
            }
        }
        finally
        {
            if (reservation is not null)
            {
                run.ReservedUnused(reservation.Remaining);
                reservation.Dispose();
            }
        }
    }

    /// <summary>The round in progress: lock L, the hog's turn at it, and the kills the OOM killer made in it.</summary>
    private sealed class Round(PolicyRun run)
    {
        private int _kills;

        public SemaphoreSlim L { get; } = new(1, 1);

        public SemaphoreSlim Go { get; } = new(0);

        public volatile string? Holder;

        public void Begin() => Volatile.Write(ref _kills, 0);

        public void Killed(OomReport report)
        {
            if (report.Victim is not { } victim)
            {
                return;
            }

            bool cause = victim.Name.StartsWith("hog", StringComparison.Ordinal);
            run.OomKill(cause);
            if (Interlocked.Increment(ref _kills) > 1)
            {
                run.AddFigure(FigureNames.NextVictimKills, 1);
                if (!cause)
                {
                    run.AddFigure(FigureNames.NextVictimKillsNotCause, 1);
                }
            }
        }
    }

    /// <summary>The biggest consumer: fills memory each round, then needs L to exit; its wait for L ignores the kill.</summary>
    private sealed class Hog(PolicyRun run, MemoryBudget budget, Round round, bool reapable)
    {
        private int _generation;

        public SemaphoreSlim Start { get; } = new(0);

        public SemaphoreSlim Filled { get; } = new(0);

        public SemaphoreSlim Exited { get; } = new(0);

        public void Live(CancellationToken stop)
        {
            while (true)
            {
                Start.Wait(stop);
                using var kill = new CancellationTokenSource();
                using MemoryConsumer consumer = budget.RegisterConsumer($"hog-{++_generation}", kill);
                var memory = new Held(consumer);
                using IDisposable? reaper = reapable ? consumer.RegisterReapable(memory) : null;
                try
                {
                    using (consumer.Enter())
                    {
                        while (budget.TryRent(Chunk, out IMemoryOwner<byte>? buffer))
                        {
                            memory.Add(buffer);
                        }
                    }

                    Filled.Release();
                    run.Activity("hog", $"{consumer.Name} holds {memory.Bytes >> 20} MiB; waiting for its turn at L");
                    using (var either = CancellationTokenSource.CreateLinkedTokenSource(kill.Token, stop))
                    {
                        try
                        {
                            round.Go.Wait(either.Token);
                        }
                        catch (OperationCanceledException) when (kill.IsCancellationRequested && !stop.IsCancellationRequested)
                        {
                            // killed before its turn: it goes for L at once to exit
                        }
                    }

                    run.Activity("hog", $"{consumer.Name}{(consumer.IsKilled ? " (killed)" : string.Empty)} needs L to exit; waiting for it uninterruptibly (held by {round.Holder ?? "nobody"})");
                    round.L.Wait(stop);
                    round.L.Release();
                }
                finally
                {
                    memory.Free();
                }

                Exited.Release();
            }
        }
    }

    /// <summary>A consumer with some memory that it gives back at once when killed.</summary>
    private sealed class Bystander(string name)
    {
        private int _generation;

        public string Name { get; } = name;

        public SemaphoreSlim Ready { get; } = new(0);

        public SemaphoreSlim Refill { get; } = new(0);

        public volatile bool Down;

        public void Live(PolicyRun run, MemoryBudget budget, long bytes, CancellationToken stop)
        {
            while (true)
            {
                using var kill = new CancellationTokenSource();
                using MemoryConsumer consumer = budget.RegisterConsumer($"{Name}-{++_generation}", kill);
                var memory = new Held(consumer);
                try
                {
                    using (consumer.Enter())
                    {
                        for (long got = 0; got < bytes; got += Chunk)
                        {
                            memory.Add(budget.Rent(Chunk, AllocationMode.NoFail, site: "bystander", cancellationToken: stop));
                        }
                    }

                    Ready.Release();
                    run.Activity(Name, $"{consumer.Name} holds {memory.Bytes >> 20} MiB; idle, exits at once if killed");
                    using var either = CancellationTokenSource.CreateLinkedTokenSource(kill.Token, stop);
                    either.Token.WaitHandle.WaitOne();
                }
                finally
                {
                    memory.Free();
                }

                stop.ThrowIfCancellationRequested();
                Down = true;
                run.Activity(Name, "killed; waiting to be started again at the next round");
                Refill.Wait(stop);
            }
        }
    }

    /// <summary>A consumer's buffers; also its reapable memory, freed on its behalf so that its charges are credited to it.</summary>
    private sealed class Held(MemoryConsumer consumer) : IMemoryReclaimer
    {
        private readonly List<IMemoryOwner<byte>> _buffers = [];
        private long _bytes;

        public long Bytes => Interlocked.Read(ref _bytes);

        public void Add(IMemoryOwner<byte> buffer)
        {
            lock (_buffers)
            {
                _buffers.Add(buffer);
                _bytes += buffer.Memory.Length;
            }
        }

        public long Free()
        {
            IMemoryOwner<byte>[] all;
            lock (_buffers)
            {
                all = [.. _buffers];
                _buffers.Clear();
                _bytes = 0;
            }

            long freed = 0;
            using (consumer.IsDisposed ? null : consumer.Enter())
            {
                foreach (IMemoryOwner<byte> buffer in all)
                {
                    freed += buffer.Memory.Length;
                    buffer.Dispose();
                }
            }

            return freed;
        }

        public long GetReclaimableBytes() => Bytes;

        public ReclaimResult Reclaim(long target, CancellationToken cancellationToken) => new(Free());
    }
}
