using Microsoft.Extensions.Configuration;

namespace Headroom.Extensions.Hosting.Tests;

/// <summary>
/// A configuration provider whose keys a test sets and removes, as an operator edits appsettings.json; the change
/// takes effect at <see cref="IConfigurationRoot.Reload"/>, as a file provider's does when the file changes.
/// </summary>
internal sealed class SettableConfiguration(IDictionary<string, string?> initial) : ConfigurationProvider, IConfigurationSource
{
    private Dictionary<string, string?> _pending = new(initial, StringComparer.OrdinalIgnoreCase);

    public IConfigurationProvider Build(IConfigurationBuilder builder) => this;

    public override void Load() => Data = new Dictionary<string, string?>(_pending, StringComparer.OrdinalIgnoreCase);

    internal void Edit(string key, string value) => _pending[key] = value;

    internal void Remove(string key) => _pending.Remove(key);
}
