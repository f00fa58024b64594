namespace Headroom.AspNetCore;

/// <summary>Declares a request's worst case for admission by memory (see <see cref="IMemoryAdmissionMetadata"/>).</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method | AttributeTargets.Delegate, AllowMultiple = false)]
public sealed class MemoryAdmissionAttribute : Attribute, IMemoryAdmissionMetadata
{
    /// <summary>Creates the metadata.</summary>
    /// <param name="estimateBytes">The bytes reserved for a request, on top of its <c>Content-Length</c> when that is counted; not negative.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="estimateBytes"/> is negative.</exception>
    public MemoryAdmissionAttribute(long estimateBytes)
    {
        if (estimateBytes < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(estimateBytes), estimateBytes, $"A request's memory estimate must not be negative; it was {estimateBytes}.");
        }

        EstimateBytes = estimateBytes;
    }

    /// <inheritdoc/>
    public long EstimateBytes { get; }
}
