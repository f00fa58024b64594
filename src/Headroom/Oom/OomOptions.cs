namespace Headroom;

/// <summary>The OOM killer's settings for a budget tree (semantics §7). Validated when the root budget is created.</summary>
public sealed class OomOptions
{
    /// <summary>Gets or sets how the victim is chosen.</summary>
    /// <value>The default value is <see cref="OomPolicy.Badness"/>.</value>
    public OomPolicy Policy { get; set; } = OomPolicy.Badness;

    /// <summary>
    /// Gets or sets a caller-supplied choice that replaces <see cref="Policy"/>: given the eligible candidates, highest
    /// badness first, it returns the one to kill, or null to kill nobody.
    /// </summary>
    public Func<IReadOnlyList<OomCandidate>, OomCandidate?>? Selector { get; set; }

    /// <summary>
    /// Gets or sets how long a victim has to release memory before it is given up on and the next may be chosen.
    /// </summary>
    /// <value>The default value is 3 seconds, as Linux's OOM reaper (2 s delay, then 10 tries 100 ms apart).</value>
    public TimeSpan KillTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <param name="path">What leads to these options from the caller's argument ("Oom." inside <see cref="MemoryBudgetOptions"/>): the parameter name is the property's path.</param>
    internal void Validate(string path)
    {
        if (!Enum.IsDefined(Policy))
        {
            throw new ArgumentOutOfRangeException(path + nameof(Policy), Policy, $"{Policy} is not a defined {nameof(OomPolicy)}.");
        }

        if (KillTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(path + nameof(KillTimeout), KillTimeout, $"{nameof(OomOptions)}.{nameof(KillTimeout)} must be positive; it was {KillTimeout}.");
        }
    }
}
