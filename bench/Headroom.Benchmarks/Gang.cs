using System.Diagnostics;

namespace Headroom.Benchmarks;

/// <summary>
/// Runs one round body on N threads at once: the calling thread plus N − 1 long-lived workers. The calling thread
/// works too, so a 2-thread case on a 2-core machine has no third thread competing. Threads should not outnumber cores.
/// </summary>
/// <remarks>
/// A <see cref="Barrier"/> gathers the threads, but a thread blocked in it can take milliseconds to wake (seen: ~5 ms
/// on a 2-vCPU VM), and until it does the others run uncontended. So the round also sets a start line a little
/// ahead, and every thread spins until then. Each thread timestamps its own start and end; a round's wall time is
/// first start to last end, and the skew between starts is reported so late starts can be noticed.
/// </remarks>
internal sealed class Gang : IDisposable
{
    private static readonly long StartLead = Stopwatch.Frequency / 50; // 20 ms: well beyond the wake-ups seen

    private readonly Barrier _barrier;
    private readonly Thread[] _workers;
    private readonly long[] _starts;
    private readonly long[] _ends;
    private readonly long[] _done;
    private RoundBody? _body; // null tells the workers to exit; the barrier publishes it and the fields below
    private long _iterations;
    private long _startLine;

    public Gang(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        _barrier = new Barrier(threads);
        _starts = new long[threads];
        _ends = new long[threads];
        _done = new long[threads];
        _workers = new Thread[threads - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            int slot = i + 1;
            _workers[i] = new Thread(() => Work(slot)) { IsBackground = true, Name = $"quick-bench worker {slot}" };
            _workers[i].Start();
        }
    }

    public int Threads => _starts.Length;

    /// <summary>Runs <paramref name="body"/> with <paramref name="iterations"/> on every thread at once.</summary>
    public RoundTiming Run(RoundBody body, long iterations)
    {
        _body = body;
        _iterations = iterations;
        _startLine = _workers.Length == 0 ? 0 : Stopwatch.GetTimestamp() + StartLead;
        _barrier.SignalAndWait(); // gather
        RunSlot(0);
        _barrier.SignalAndWait(); // everyone finished; their slots are visible
        long firstStart = _starts.Min();
        return new RoundTiming(
            Stopwatch.GetElapsedTime(firstStart, _ends.Max()),
            Stopwatch.GetElapsedTime(firstStart, _starts.Max()),
            _done.Sum());
    }

    public void Dispose()
    {
        _body = null;
        if (_workers.Length > 0)
        {
            _barrier.SignalAndWait();
        }

        foreach (Thread worker in _workers)
        {
            worker.Join();
        }

        _barrier.Dispose();
    }

    private void Work(int slot)
    {
        while (true)
        {
            _barrier.SignalAndWait();
            if (_body is null)
            {
                return;
            }

            RunSlot(slot);
            _barrier.SignalAndWait();
        }
    }

    private void RunSlot(int slot)
    {
        long startLine = _startLine;
        while (Stopwatch.GetTimestamp() < startLine)
        {
            Thread.SpinWait(20);
        }

        long start = Stopwatch.GetTimestamp();
        long done = _body!(_iterations);
        _ends[slot] = Stopwatch.GetTimestamp();
        _starts[slot] = start;
        _done[slot] = done;
    }
}

/// <summary>One round: first start to last end, the spread of the threads' starts, and the ops that succeeded.</summary>
internal readonly record struct RoundTiming(TimeSpan Elapsed, TimeSpan StartSkew, long Done);
