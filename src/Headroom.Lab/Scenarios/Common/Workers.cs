using Headroom.Lab.Running;

namespace Headroom.Lab.Scenarios.Common;

/// <summary>Starts a scenario's threads through <see cref="LabThreads"/> and ends them all, whatever happens.</summary>
internal sealed class Workers
{
    private readonly List<Thread> _threads = [];
    private readonly List<Exception> _faults = [];
    private readonly CancellationToken _stop;

    public Workers(CancellationToken stop) => _stop = stop;

    /// <summary>Starts <paramref name="body"/> on a named thread; a cancellation of the run's token ends it quietly.</summary>
    public void Start(string name, Action body)
    {
        _threads.Add(LabThreads.Start(name, () =>
        {
            try
            {
                body();
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
            }
            catch (ObjectDisposedException) when (_stop.IsCancellationRequested)
            {
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                lock (_faults)
                {
                    _faults.Add(e);
                }
            }
        }));
    }

    /// <summary>Waits for every thread; rethrows the first fault of a thread that failed for a reason other than the run's end.</summary>
    public void JoinAll(TimeSpan timeout)
    {
        IReadOnlyList<string> stuck = LabThreads.Join(_threads, timeout);
        if (stuck.Count > 0)
        {
            throw new TimeoutException($"Threads did not end within {timeout.TotalSeconds:F0} s: {string.Join(", ", stuck)}.");
        }

        lock (_faults)
        {
            if (_faults.Count > 0)
            {
                throw new AggregateException(_faults);
            }
        }
    }
}
