using System.Diagnostics.Metrics;
using Headroom.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Headroom.Extensions.Hosting.Tests.Hosting;

/// <summary>The tree's meter comes from the container's IMeterFactory, so its instruments live and end with the container's meters.</summary>
public sealed class MeterTests
{
    [Fact]
    public async Task The_trees_meter_is_made_by_the_containers_meter_factory()
    {
        IHost host = TestHosts.Build(TestHosts.FlatRoot(), configure: b => b.Services.AddMetrics());
        await host.StartAsync();
        IMeterFactory factory = host.Services.GetRequiredService<IMeterFactory>();
        MemoryBudget root = host.Services.GetRequiredService<MemoryBudget>();

        var ours = new List<Instrument>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Name == "Headroom" && ReferenceEquals(instrument.Meter.Scope, factory))
                {
                    lock (ours)
                    {
                        ours.Add(instrument);
                    }
                }
            },
        };
        listener.Start();

        Assert.NotEmpty(ours);

        await TestHosts.StopAsync(host);
        TestBudgets.AssertEmpty(root);
    }
}
