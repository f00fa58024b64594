using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Headroom.Lab.Scenarios.Container;

/// <summary>
/// The lab's child process for the container scenario: the same executable, started with
/// <see cref="EnvironmentVariable"/> set, inside a memory group made by the parent. Its workers hold buffers
/// (1 MiB native, filled, plus a 64 KiB array; one per operation, then a millisecond of other work) towards 1.5 × the group's limit, giving back their oldest as they go.
/// <c>unmanaged</c> allocates with no budget; <c>headroom</c> charges every buffer to <see cref="MemoryBudget.ForProcess"/>
/// first: MayFail charges that are refused give back the oldest buffer, every fourth charge waits (NoFail, with a
/// 100 ms deadline) for room that other workers give back, unless another worker is waiting already.
/// </summary>
internal sealed class ContainerChild
{
    /// <summary>The hidden switch: "policy=…;limit=…;ms=…;threads=…;headroom=…". Not a command-line option, so the lab's options stay as they are.</summary>
    public const string EnvironmentVariable = "HEADROOM_LAB_CONTAINER_CHILD";

    private const int NativeBuffer = 1 << 20;
    private const int ArrayBuffer = 64 << 10;
    private const long BufferBytes = NativeBuffer + ArrayBuffer;

    private readonly string _policy;
    private readonly long _limit;
    private readonly TimeSpan _duration;
    private readonly int _threads;
    private readonly long _headroom;
    private readonly ConcurrentQueue<long> _latencies = new();
    private long _operations;
    private long _refusals;
    private long _waits;
    private long _waitTimeouts;
    private int _waiting;
    private long _held;
    private long _peakHeld;

    private ContainerChild(Dictionary<string, string> settings)
    {
        _policy = settings["policy"];
        _limit = long.Parse(settings["limit"], CultureInfo.InvariantCulture);
        _duration = TimeSpan.FromMilliseconds(double.Parse(settings["ms"], CultureInfo.InvariantCulture));
        _threads = int.Parse(settings["threads"], CultureInfo.InvariantCulture);
        _headroom = long.Parse(settings["headroom"], CultureInfo.InvariantCulture);
    }

    /// <summary>The child's settings when this process is the child, else null.</summary>
    public static ContainerChild? Requested() =>
        Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } text
            ? new ContainerChild(text.Split(';').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal))
            : null;

    public static string Describe(string policy, long limit, TimeSpan duration, int threads, long headroom) =>
        string.Create(CultureInfo.InvariantCulture, $"policy={policy};limit={limit};ms={duration.TotalMilliseconds};threads={threads};headroom={headroom}");

    /// <summary>Runs the workload and returns the exit code (0: done; 2: refused to run outside a limited group).</summary>
    public int Run()
    {
        // Never allocate towards 1.5 × a limit that is not there: outside a group this size would be unbounded by the kernel.
        ProcessMemoryLimit found = ProcessMemoryLimit.Read();
        if (found.Source is not (MemoryLimitSource.CgroupV1 or MemoryLimitSource.CgroupV2) || found.LimitBytes > _limit)
        {
            Console.Error.WriteLine($"container child: not inside a memory group of at most {_limit} bytes ({found.Description}); not running");
            return 2;
        }

        using MemoryBudget? budget = _policy switch
        {
            "unmanaged" => null,
            "headroom" => MemoryBudget.ForProcess(new ProcessBudgetOptions { HeadroomBytes = _headroom, Budget = new MemoryBudgetOptions { Name = "process", CanaryInterval = Timeout.InfiniteTimeSpan } }),
            _ => throw new ArgumentOutOfRangeException(nameof(_policy), _policy, "Unknown container policy."),
        };

        // A first report before the workers start: its serializer and console are ready (compiled, allocated) before
        // memory runs short. Made first under load, the report once came after the kernel's kill, and a killed child
        // had reported no operation at all.
        Report(done: false, budget, found);

        long perWorker = _limit * 3 / 2 / _threads;
        var clock = Stopwatch.StartNew();
        var workers = new Thread[_threads];
        for (int i = 0; i < _threads; i++)
        {
            workers[i] = new Thread(() => Work(budget, perWorker, clock)) { IsBackground = true, Name = $"container-{i}" };
            workers[i].Start();
        }

        while (workers.Any(w => w.IsAlive))
        {
            workers[0].Join(10); // often: a child the kernel kills has reported all but its last 10 ms
            Report(done: false, budget, found);
        }

        Report(done: true, budget, found);
        return 0;
    }

    private unsafe void Work(MemoryBudget? budget, long limit, Stopwatch clock)
    {
        var held = new Queue<(nint Native, byte[] Array)>();
        long holding = 0;
        long n = 0;
        try
        {
            while (clock.Elapsed < _duration)
            {
                long started = Stopwatch.GetTimestamp();
                if (holding + BufferBytes > limit && held.Count > 0)
                {
                    Release(budget, held, ref holding);
                }

                if (budget is not null && !Admit(budget, held, ref holding, ++n % 4 == 0))
                {
                    continue;
                }

                byte* native = (byte*)NativeMemory.Alloc(NativeBuffer);
                new Span<byte>(native, NativeBuffer).Fill((byte)n); // resident, as a real buffer's contents make it

                var array = new byte[ArrayBuffer];
                array[^1] = 1;
                held.Enqueue(((nint)native, array));
                holding += BufferBytes;
                Raise(Interlocked.Add(ref _held, BufferBytes));
                Interlocked.Increment(ref _operations);
                _latencies.Enqueue((long)(Stopwatch.GetElapsedTime(started).TotalMilliseconds * 1e6));
                Thread.Sleep(1); // the request's other work: a service does more than allocate, and the parent hears of each 10 ms
            }
        }
        finally
        {
            while (held.Count > 0)
            {
                Release(budget, held, ref holding);
            }
        }
    }

    /// <summary>Charges one buffer by the operation's mode; false when the worker had to give back instead and should try again.</summary>
    private bool Admit(MemoryBudget budget, Queue<(nint, byte[])> held, ref long holding, bool wait)
    {
        // One waiter at a time: workers that all wait at once, each holding what it holds, give nothing back, and only
        // the deadline ends their waits. One run (two workers, each waiting at every fourth charge) had 18 of its 35
        // waits time out, 1.8 s of its 2 s of worker time, and made fewer operations than the child that was killed.
        if (wait && Interlocked.CompareExchange(ref _waiting, 1, 0) == 0)
        {
            Interlocked.Increment(ref _waits);
            using var deadline = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
            try
            {
                budget.Charge(BufferBytes, AllocationMode.NoFail, site: "container-wait", cancellationToken: deadline.Token);
                return true;
            }
            catch (OperationCanceledException)
            {
                Interlocked.Increment(ref _waitTimeouts);
            }
            finally
            {
                Volatile.Write(ref _waiting, 0);
            }
        }
        else if (budget.TryCharge(BufferBytes, AllocationMode.MayFail, site: "container"))
        {
            return true;
        }
        else
        {
            Interlocked.Increment(ref _refusals);
        }

        if (held.Count > 0)
        {
            Release(budget, held, ref holding); // as a cache shrinks when memory is short: the oldest goes first
        }
        else
        {
            Thread.Sleep(1); // holding nothing: the others hold the room and will give some back
        }

        return false;
    }

    private unsafe void Release(MemoryBudget? budget, Queue<(nint Native, byte[] Array)> held, ref long holding)
    {
        (nint native, _) = held.Dequeue();
        NativeMemory.Free((void*)native);
        holding -= BufferBytes;
        Interlocked.Add(ref _held, -BufferBytes);
        budget?.Uncharge(BufferBytes);
    }

    private void Raise(long held)
    {
        long peak = Volatile.Read(ref _peakHeld);
        while (held > peak && Interlocked.CompareExchange(ref _peakHeld, held, peak) is var seen && seen != peak)
        {
            peak = seen;
        }
    }

    private void Report(bool done, MemoryBudget? budget, ProcessMemoryLimit found)
    {
        var latencies = new List<long>();
        while (_latencies.TryDequeue(out long ns))
        {
            latencies.Add(ns);
        }

        var line = new ChildProgress
        {
            Operations = Volatile.Read(ref _operations),
            LatenciesNs = latencies,
            Done = done,
            Refusals = Volatile.Read(ref _refusals),
            Waits = Volatile.Read(ref _waits),
            WaitTimeouts = Volatile.Read(ref _waitTimeouts),
            BudgetCapacity = budget?.Capacity ?? 0,
            LimitFound = found.LimitBytes,
            PeakHeld = Volatile.Read(ref _peakHeld),
        };
        Console.Out.WriteLine(JsonSerializer.Serialize(line, ChildJsonContext.Default.ChildProgress));
        Console.Out.Flush();
    }
}
