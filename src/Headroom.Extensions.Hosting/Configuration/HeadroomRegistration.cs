using Microsoft.Extensions.Configuration;

namespace Headroom.Extensions.Hosting.Configuration;

/// <summary>
/// What one <c>AddHeadroom</c> registered, found again by a second call: the configuration its options are bound from
/// (for the keys in validation messages, and to find entries the binder dropped).
/// </summary>
internal sealed class HeadroomRegistration
{
    internal ConfigurationKeys Keys { get; set; } = new(HeadroomOptions.DefaultSectionName);

    /// <summary>The bound section, read from the container when needed; null for options set in code only.</summary>
    internal Func<IServiceProvider, IConfiguration?> Configuration { get; set; } = static _ => null;
}
