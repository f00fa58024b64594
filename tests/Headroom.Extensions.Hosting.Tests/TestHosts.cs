using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Headroom.Extensions.Hosting.Tests;

/// <summary>Real hosts (the generic host, its container, its start and stop) around AddHeadroom, configured as a service's appsettings would be.</summary>
internal static class TestHosts
{
    /// <summary>A flat 1000-byte root named "engine": watermarks at zero, so a charge fits exactly when Committed + n ≤ 1000.</summary>
    internal static Dictionary<string, string?> FlatRoot(long capacity = 1000) => new()
    {
        ["Headroom:Name"] = "engine",
        ["Headroom:Capacity"] = capacity.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Headroom:MinWatermark"] = "0",
        ["Headroom:LowWatermark"] = "0",
        ["Headroom:HighWatermark"] = "0",
    };

    /// <summary>A host whose configuration is <paramref name="settings"/> (in memory, reloadable), with AddHeadroom bound to its "Headroom" section; not started.</summary>
    internal static IHost Build(IDictionary<string, string?> settings, Action<HostApplicationBuilder>? configure = null, Action<HeadroomBuilder>? headroom = null)
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(settings);
        HeadroomBuilder h = builder.Services.AddHeadroom().BindConfiguration();
        headroom?.Invoke(h);
        configure?.Invoke(builder);
        return builder.Build();
    }

    /// <summary>A host whose "Headroom" section comes from <paramref name="settings"/>, which the test edits and reloads.</summary>
    internal static IHost Build(SettableConfiguration settings, Action<HostApplicationBuilder>? configure = null, Action<HeadroomBuilder>? headroom = null)
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        ((IConfigurationBuilder)builder.Configuration).Add(settings);
        HeadroomBuilder h = builder.Services.AddHeadroom().BindConfiguration();
        headroom?.Invoke(h);
        configure?.Invoke(builder);
        return builder.Build();
    }

    /// <summary>A host configured from an appsettings.json text.</summary>
    internal static IHost BuildFromJson(string json, Action<HostApplicationBuilder>? configure = null)
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json)));
        builder.Services.AddHeadroom().BindConfiguration();
        configure?.Invoke(builder);
        return builder.Build();
    }

    /// <summary>Stops and disposes the host as the runtime does at shutdown (asynchronously: the container awaits the root's DisposeAsync).</summary>
    internal static async Task StopAsync(IHost host)
    {
        await host.StopAsync();
        await ((IAsyncDisposable)host).DisposeAsync();
    }
}
