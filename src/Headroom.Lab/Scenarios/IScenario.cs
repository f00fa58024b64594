using Headroom.Lab.Running;

namespace Headroom.Lab.Scenarios;

/// <summary>
/// One of the article's situations, replayed once per (variant, policy) with real threads and real memory.
/// A scenario knows its policies by name; the runner gives every policy the same seed, so policies differ only in policy.
/// </summary>
internal interface IScenario
{
    /// <summary>The name on the command line and in results.json (for example "transactions").</summary>
    string Name { get; }

    /// <summary>A title for the report's heading.</summary>
    string Title { get; }

    /// <summary>Two or three sentences a newcomer understands: what is run and why it matters.</summary>
    string Why { get; }

    /// <summary>The variants the scenario runs at (for example "ample" and "tight"); empty when it has one shape only.</summary>
    IReadOnlyList<string> Variants { get; }

    /// <summary>The policies, exactly as named in the issue; each is the real code path it names.</summary>
    IReadOnlyList<string> Policies { get; }

    /// <summary>
    /// Runs <see cref="PolicyRun.Policy"/> at <see cref="PolicyRun.Variant"/> until <see cref="PolicyRun.Settings"/>'s
    /// duration or size is done, recording into <paramref name="run"/>. Must end every thread it started before it
    /// returns, also when <paramref name="cancellationToken"/> fires (the watchdog's stall, or the run's deadline):
    /// block only in waits that take the token (SemaphoreSlim.Wait(ct), budget calls with the token, Monitor.TryEnter
    /// with a timeout in a loop that checks the token), never in an untimed lock.
    /// </summary>
    Task RunAsync(PolicyRun run, CancellationToken cancellationToken);

    /// <summary>
    /// How long the watchdog waits for an operation to complete before it declares the run stalled, builds the stall
    /// report and cancels the run's token. Longer than the slowest operation a healthy policy makes.
    /// </summary>
    TimeSpan StallAfter => TimeSpan.FromSeconds(2);

    /// <summary>
    /// Brings the process to steady state before the runner starts any clock of this scenario (code compiled, heaps
    /// grown), so that the policy measured first does not pay for it. Called once per scenario; nothing is recorded.
    /// </summary>
    Task WarmUpAsync(LabSettings settings, CancellationToken cancellationToken) => Task.CompletedTask;
}
