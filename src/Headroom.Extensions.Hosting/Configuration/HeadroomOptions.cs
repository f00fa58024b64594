namespace Headroom.Extensions.Hosting;

/// <summary>
/// The settings <c>AddHeadroom</c> builds a service's budget tree from, usually bound from the configuration section
/// <see cref="DefaultSectionName"/> (<c>"Headroom"</c>): the root, its children under <see cref="Budgets"/>, and the
/// per-site policies under <see cref="Sites"/>. Validated when the host starts; an invalid value fails the start with a
/// message that names its configuration key (for example <c>Headroom:Budgets:tenant:Capacity</c>).
/// </summary>
/// <remarks>
/// The root is the process budget (<see cref="MemoryBudget.ForProcess(ProcessBudgetOptions?)"/>: the cgroup's limit
/// less <see cref="HeadroomBytes"/> or <see cref="HeadroomFraction"/>) unless <see cref="Capacity"/> fixes it. Budgets
/// are created once, at start: capacities and watermarks changed later take effect at the next start. Only
/// <see cref="Sites"/> is applied again whenever the configuration reloads, without a restart.
/// </remarks>
public sealed class HeadroomOptions
{
    /// <summary>The configuration section <c>BindConfiguration()</c> reads by default: <c>"Headroom"</c>.</summary>
    public const string DefaultSectionName = "Headroom";

    /// <summary>Gets or sets the root budget's name, used in logs, exceptions, reports and health checks.</summary>
    /// <value>The default value is <c>"process"</c>.</value>
    public string Name { get; set; } = "process";

    /// <summary>
    /// Gets or sets a fixed capacity for the root, in bytes, instead of the process's limit: for tests, and for hosts
    /// where no cgroup limit applies and physical memory is not the right figure.
    /// </summary>
    /// <value>The default value (<see langword="null"/>) sizes the root from the process's real limit.</value>
    public long? Capacity { get; set; }

    /// <summary>Gets or sets the process budget's headroom in bytes (<see cref="ProcessBudgetOptions.HeadroomBytes"/>); only without <see cref="Capacity"/>.</summary>
    public long? HeadroomBytes { get; set; }

    /// <summary>Gets or sets the process budget's headroom as a fraction of the limit (<see cref="ProcessBudgetOptions.HeadroomFraction"/>); only without <see cref="Capacity"/>.</summary>
    public double? HeadroomFraction { get; set; }

    /// <summary>Gets or sets the root's min watermark in bytes (<see cref="BudgetLevelOptions.MinWatermark"/>).</summary>
    public long? MinWatermark { get; set; }

    /// <summary>Gets or sets the root's low watermark in bytes (<see cref="BudgetLevelOptions.LowWatermark"/>).</summary>
    public long? LowWatermark { get; set; }

    /// <summary>Gets or sets the root's high watermark in bytes (<see cref="BudgetLevelOptions.HighWatermark"/>).</summary>
    public long? HighWatermark { get; set; }

    /// <summary>Gets or sets the root's distance between default watermarks (<see cref="BudgetLevelOptions.WatermarkScaleFactor"/>).</summary>
    public int WatermarkScaleFactor { get; set; } = BudgetLevelOptions.DefaultWatermarkScaleFactor;

    /// <summary>Gets or sets how long a charge may wait before the tree logs a stall and the health check reports it (<see cref="MemoryBudgetOptions.CanaryInterval"/>).</summary>
    /// <value>The default value is 10 seconds.</value>
    public TimeSpan CanaryInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets the tree's OOM killer policy and kill timeout (keys <c>Oom:Policy</c>, <c>Oom:KillTimeout</c>).</summary>
    public OomOptions Oom { get; set; } = new();

    /// <summary>
    /// Gets the child budgets by name (keys <c>Budgets:NAME:Capacity</c> and so on); each is a child of the root, or
    /// of the budget its <see cref="HeadroomBudgetOptions.Parent"/> names.
    /// </summary>
    public IDictionary<string, HeadroomBudgetOptions> Budgets { get; } = new Dictionary<string, HeadroomBudgetOptions>(StringComparer.Ordinal);

    /// <summary>
    /// Gets the per-site policies by site name (keys <c>Sites:SITE:MaxRetries</c>, <c>:MaxWait</c>, <c>:RetryForever</c>,
    /// <c>:CanaryInterval</c>), set on the whole tree (<see cref="MemoryBudget.SetSitePolicy"/>). Reloaded at run time:
    /// a changed, added or removed site applies to charges that start after the reload.
    /// </summary>
    public IDictionary<string, SitePolicy> Sites { get; } = new Dictionary<string, SitePolicy>(StringComparer.Ordinal);

    /// <summary>
    /// Gets or sets whether the <c>IMemoryCache</c> registered in the container (if any, and if it is a
    /// <c>MemoryCache</c> with a size limit) is charged to a budget and shrunk under its pressure, by a
    /// <see cref="MemoryCacheReclaimer"/>.
    /// </summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool ChargeMemoryCache { get; set; } = true;

    /// <summary>Gets or sets the budget the memory cache is charged to: the root's name or one of <see cref="Budgets"/>.</summary>
    /// <value>The default value (<see langword="null"/>) is the root.</value>
    public string? MemoryCacheBudget { get; set; }
}
