namespace Headroom;

/// <summary>Per-site policy (semantics §3, XFS's error configuration).</summary>
public sealed partial class MemoryBudget
{
    /// <summary>
    /// Sets, replaces or (with <see langword="null"/>) removes the policy for the charges that name <paramref name="site"/>,
    /// anywhere in this budget's tree. Takes effect for charges that start afterwards.
    /// </summary>
    /// <param name="site">The site name the callers pass.</param>
    /// <param name="policy">The policy, validated now; null restores the callers' own modes.</param>
    /// <exception cref="ArgumentException">The site is empty or the policy is invalid; the message names the setting.</exception>
    public void SetSitePolicy(string site, SitePolicy? policy)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(site);
        policy?.Validate();
        Tree.SetSitePolicy(site, policy);
    }

    /// <summary>
    /// A try's site policy: as for any charge, but a try never waits, so a policy that would make the site wait makes
    /// the try retry reclaim as <see cref="AllocationMode.RetryMayFail"/> does (and the site is dropped, so that the
    /// slow path does not apply that policy again and park it).
    /// </summary>
    internal void ApplySiteToTry(ref AllocationMode mode, ref string? site)
    {
        if (Tree.SitePolicy(site) is { } policy && policy.Apply(mode) == AllocationMode.NoFail)
        {
            mode = AllocationMode.RetryMayFail;
            site = null;
        }
    }
}
