namespace Headroom;

/// <summary>
/// Starts tree-wide work (the background worker, timers) without the caller's execution context: such work acts for
/// the tree, and must not inherit the scopes of whichever flow happened to start it (a reclaim context, a reservation,
/// a consumer).
/// </summary>
internal static class Detached
{
    internal static T Start<T>(Func<T> start)
    {
        if (ExecutionContext.IsFlowSuppressed())
        {
            return start();
        }

        using (ExecutionContext.SuppressFlow())
        {
            return start();
        }
    }
}
