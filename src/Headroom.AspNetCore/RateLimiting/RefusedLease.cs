using System.Threading.RateLimiting;

namespace Headroom.AspNetCore;

/// <summary>A lease not granted, with why and, when configured, when to retry.</summary>
internal sealed class RefusedLease(string reason, TimeSpan? retryAfter) : RateLimitLease
{
    public override bool IsAcquired => false;

    public override IEnumerable<string> MetadataNames => retryAfter is null ? [MetadataName.ReasonPhrase.Name] : [MetadataName.ReasonPhrase.Name, MetadataName.RetryAfter.Name];

    public override bool TryGetMetadata(string metadataName, out object? metadata)
    {
        if (metadataName == MetadataName.ReasonPhrase.Name)
        {
            metadata = reason;
            return true;
        }

        if (metadataName == MetadataName.RetryAfter.Name && retryAfter is { } after)
        {
            metadata = after;
            return true;
        }

        metadata = null;
        return false;
    }
}
