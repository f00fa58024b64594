namespace Headroom.AspNetCore;

/// <summary>Endpoint metadata: what a request to the endpoint may hold at most beyond its body (its worst case).</summary>
public interface IMemoryAdmissionMetadata
{
    /// <summary>Gets the bytes reserved for a request to the endpoint, on top of its <c>Content-Length</c> when that is counted; not negative.</summary>
    long EstimateBytes { get; }
}
