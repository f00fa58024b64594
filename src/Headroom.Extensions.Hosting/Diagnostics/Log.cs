using Microsoft.Extensions.Logging;

namespace Headroom.Extensions.Hosting.Diagnostics;

/// <summary>What the hosting package logs (the budgets log their own stalls, faults and kills).</summary>
internal static class Log
{
    private static readonly Action<ILogger, string, string, Exception?> CacheNotCharged = LoggerMessage.Define<string, string>(
        LogLevel.Warning, new EventId(1, nameof(CacheNotCharged)),
        "The registered IMemoryCache is not charged to budget '{Budget}': {Reason}");

    private static readonly Action<ILogger, string, string, Exception?> SitePolicyRefused = LoggerMessage.Define<string, string>(
        LogLevel.Error, new EventId(2, nameof(SitePolicyRefused)),
        "The reloaded policy of site '{Site}' was refused and the previous one stays: {Reason}");

    private static readonly Action<ILogger, int, Exception?> SitePoliciesReloaded = LoggerMessage.Define<int>(
        LogLevel.Information, new EventId(3, nameof(SitePoliciesReloaded)),
        "Site policies reloaded: {Count} site(s) configured");

    internal static void CacheNotChargedTo(ILogger logger, string budget, string reason) => CacheNotCharged(logger, budget, reason, null);

    internal static void SitePolicyRefusedOnReload(ILogger logger, string site, Exception reason) => SitePolicyRefused(logger, site, reason.Message, reason);

    internal static void SitesReloaded(ILogger logger, int count) => SitePoliciesReloaded(logger, count, null);
}
