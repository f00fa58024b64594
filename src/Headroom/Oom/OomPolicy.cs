namespace Headroom;

/// <summary>How the OOM killer chooses its victim (semantics §7).</summary>
public enum OomPolicy
{
    /// <summary>The consumer with the highest badness: charged and reserved bytes + adj × capacity / 1000 (Linux's <c>oom_badness</c>).</summary>
    Badness = 0,

    /// <summary>The most recently registered eligible consumer: the least work is lost.</summary>
    NewestFirst = 1,

    /// <summary>End the process on OOM instead of killing a consumer, whether or not any consumer is eligible (Linux's <c>vm.panic_on_oom</c>).</summary>
    Panic = 2,
}
