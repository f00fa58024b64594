namespace Headroom;

/// <summary>What the OOM killer did for a request that found no progress possible.</summary>
internal enum OomOutcome
{
    /// <summary>Its last try, under the killer's lock, granted the request: nobody was killed.</summary>
    Granted,

    /// <summary>A victim was killed and reaped: the request may try again at the OOM floor.</summary>
    Killed,

    /// <summary>Nobody was killed: a victim is still unwinding, nobody is eligible, or the policy panicked.</summary>
    NoKill,
}
