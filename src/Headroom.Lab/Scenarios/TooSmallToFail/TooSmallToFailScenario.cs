using System.Buffers;
using System.Diagnostics;
using Headroom.Lab.Running;
using Headroom.Lab.Scenarios.Common;

namespace Headroom.Lab.Scenarios.TooSmallToFail;

/// <summary>
/// Scenario 1, the 3.19 regression: filesystem work inside <c>NoReclaim("fs")</c> makes many small charges while
/// memory is nearly full of page cache, most of it dirty (reclaimable only by the fs writeback it may not enter).
/// <c>loop</c> charges NoFail (small requests never fail, as before 3.19); <c>fail</c> charges MayFail and, like the
/// code that did not expect 3.19's failures, aborts its operation; <c>retry-mayfail</c> charges RetryMayFail (Linux
/// 4.13) and handles a failure by rolling its operation back and retrying it.
/// </summary>
internal sealed class TooSmallToFailScenario : IScenario
{
    private const long DefaultCapacity = 32L << 20;
    private static readonly int[] Sizes = [256, 512, 1024, 2048, 4096];

    public string Name => "too-small-to-fail";

    public string Title => "Too small to fail (the 3.19 regression)";

    public string Why =>
        "Before Linux 3.19 a small allocation never failed: the allocator looped until memory came back. 3.19 let small " +
        "GFP_NOFS allocations fail by accident, and filesystem code that had never seen them fail aborted its work; 4.13 " +
        "added __GFP_RETRY_MAYFAIL for callers that can handle failure after a real effort. Here filesystem operations " +
        "make many small charges inside NoReclaim(\"fs\") while the budget is nearly full of mostly dirty page cache.";

    public IReadOnlyList<string> Variants => [];

    public IReadOnlyList<string> Policies => ["loop", "fail", "retry-mayfail"];

    public TimeSpan StallAfter => TimeSpan.FromSeconds(3);

    public Task RunAsync(PolicyRun run, CancellationToken cancellationToken)
    {
        AllocationMode mode = run.Policy switch
        {
            "loop" => AllocationMode.NoFail,
            "fail" => AllocationMode.MayFail,
            "retry-mayfail" => AllocationMode.RetryMayFail,
            _ => throw new ArgumentOutOfRangeException(nameof(run), run.Policy, $"Unknown policy of {Name}."),
        };

        long capacity = run.Settings.Capacity ?? DefaultCapacity;
        long targetOps = (long)Math.Max(1, run.Settings.Size * 200_000);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var zone = new CacheZone(run, capacity, writebackLock: null, stop.Token);
        MemoryBudget budget = zone.Budget;
        PageCache cache = zone.Cache;
        var threads = new Workers(stop.Token);
        var clock = Stopwatch.StartNew();
        bool Done() => stop.IsCancellationRequested || clock.Elapsed >= run.Settings.Duration || run.Operations >= targetOps;

        try
        {
            var fill = run.NewRandom(1000);
            while (cache.TryAdd(dirty: fill.NextDouble() < 0.9, (byte)fill.Next()))
            {
            }

            // Readers and writers of other files keep the cache full: 90 % of what they add is dirty.
            threads.Start("page-cache", () =>
            {
                Random random = run.NewRandom(1001);
                while (!Done())
                {
                    for (int i = 0; i < 64 && cache.TryAdd(dirty: random.NextDouble() < 0.9, (byte)random.Next()); i++)
                    {
                    }

                    Thread.Sleep(1);
                }
            });

            for (int w = 0; w < run.Settings.Threads; w++)
            {
                int worker = w;
                threads.Start($"fs-{worker}", () => Work(run, budget, cache, mode, worker, Done, stop.Token));
            }

            threads.JoinAll(TimeSpan.FromSeconds(30));
        }
        finally
        {
            stop.Cancel();
            threads.JoinAll(TimeSpan.FromSeconds(30));
        }

        return Task.CompletedTask;
    }

    private static void Work(PolicyRun run, MemoryBudget budget, PageCache cache, AllocationMode mode, int worker, Func<bool> done, CancellationToken stop)
    {
        Random random = run.NewRandom(worker);
        string me = $"fs-{worker}";
        var held = new List<IMemoryOwner<byte>>(64);
        while (!done())
        {
            int[] sizes = [.. Enumerable.Range(0, random.Next(8, 48)).Select(_ => Sizes[random.Next(Sizes.Length)])];
            long started = PolicyRun.Start();
            while (!done())
            {
                run.Activity(me, $"operation of {sizes.Length} small charges ({mode}) inside NoReclaim(\"fs\")");
                try
                {
                    using (AllocationScope.NoReclaim(PageCache.FsDomain))
                    {
                        foreach (int size in sizes)
                        {
                            IMemoryOwner<byte> buffer = budget.Rent(size, mode, site: "fs-metadata", cancellationToken: stop);
                            buffer.Memory.Span[0] = (byte)size;
                            held.Add(buffer);
                        }

                        // The operation's result: one page of its file, dirty in the cache.
                        IMemoryOwner<byte> page = budget.Rent(PageCache.PageSize, mode, site: "fs-data", cancellationToken: stop);
                        page.Memory.Span.Fill((byte)worker);
                        cache.Add(page, dirty: true);
                    }

                    Release(held);
                    run.Completed(started);
                    break;
                }
                catch (MemoryAllocationException)
                {
                    Release(held);
                    run.MidTransactionFailure();
                    if (mode == AllocationMode.MayFail)
                    {
                        run.AddFigure("abortedOperations", 1); // code that did not expect the failure: the operation is lost
                        break;
                    }

                    run.Rollback(); // retry-mayfail: undo, wait a moment as memalloc_retry_wait does, try again
                    run.Activity(me, "backing off after a RetryMayFail failure");
                    Thread.Sleep(1);
                }
                finally
                {
                    Release(held);
                }
            }
        }
    }

    private static void Release(List<IMemoryOwner<byte>> held)
    {
        foreach (IMemoryOwner<byte> buffer in held)
        {
            buffer.Dispose();
        }

        held.Clear();
    }
}
