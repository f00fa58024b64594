using System.Collections.Concurrent;

namespace Headroom.Tests.Stocks;

/// <summary>A thread of its own (so, a stock of its own) that runs the test's steps one at a time, in order.</summary>
internal sealed class StockThread : IDisposable
{
    private readonly BlockingCollection<(Action Step, TaskCompletionSource Done)> _steps = new();
    private readonly Thread _thread;

    internal StockThread()
    {
        _thread = new Thread(() =>
        {
            foreach ((Action step, TaskCompletionSource done) in _steps.GetConsumingEnumerable())
            {
                try
                {
                    step();
                    done.SetResult();
                }
                catch (Exception e)
                {
                    done.SetException(e);
                }
            }
        })
        { IsBackground = true };
        _thread.Start();
    }

    /// <summary>Runs <paramref name="step"/> on the thread and waits for it (bounded, so a hang fails the test).</summary>
    internal void Run(Action step)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _steps.Add((step, done));
        Assert.True(done.Task.Wait(TimeSpan.FromSeconds(30)), "the step did not finish");
        done.Task.GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        _steps.CompleteAdding();
        _thread.Join(TimeSpan.FromSeconds(30));
        _steps.Dispose();
    }
}
