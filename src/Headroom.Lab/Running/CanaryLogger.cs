using Microsoft.Extensions.Logging;

namespace Headroom.Lab.Running;

/// <summary>
/// The logger a run's budgets write to: it counts the library's stall canary (EventId 1, "AllocationStall") as canary
/// warnings of the run, and keeps the first few OOM and reclaimer messages for the stall report.
/// </summary>
internal sealed class CanaryLogger(PolicyRun run) : ILogger
{
    private const int AllocationStallEventId = 1;
    private const string AllocationStallEventName = "AllocationStall";
    private const int KeptMessages = 8;
    private readonly Queue<string> _messages = new();

    /// <summary>Gets the last few warnings and errors the library logged, oldest first.</summary>
    public IReadOnlyList<string> Messages
    {
        get
        {
            lock (_messages)
            {
                return [.. _messages];
            }
        }
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
        {
            return;
        }

        if (eventId.Id == AllocationStallEventId && eventId.Name == AllocationStallEventName)
        {
            run.CanaryWarning();
        }

        string message = $"{eventId.Name}: {formatter(state, exception)}";
        lock (_messages)
        {
            _messages.Enqueue(message.Length > 600 ? message[..600] + " …" : message);
            while (_messages.Count > KeptMessages)
            {
                _messages.Dequeue();
            }
        }
    }
}
