namespace Headroom.Coyote.Tests.Concurrency;

/// <summary>
/// Coyote's systematic tests run alone: one engine at a time, and never next to tests on real threads that run the same
/// rewritten library (the engine would see them as uncontrolled concurrency). The journal of <see cref="CoyoteHarness"/>
/// is shared too.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CoyoteTests
{
    internal const string Name = "Coyote systematic tests";
}
