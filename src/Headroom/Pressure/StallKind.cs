namespace Headroom;

/// <summary>The two states of pressure stall information (Linux PSI).</summary>
public enum StallKind
{
    /// <summary>At least one charge of the budget (or of a budget below it) was stalled waiting for memory.</summary>
    Some = 0,

    /// <summary>Every registered consumer of the budget's subtree was stalled at once: no unit of work made progress.</summary>
    Full = 1,
}
