using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Headroom.Extensions.Hosting.Tests.Configuration;

/// <summary>An invalid value fails the host's start, with a message that names its configuration key; nothing is left built.</summary>
public sealed class ValidationTests
{
    [Theory]
    [InlineData("Headroom:Capacity", "-5", "Headroom:Capacity", "must be positive")]
    [InlineData("Headroom:CanaryInterval", "-00:00:01", "Headroom:CanaryInterval", "must be positive")]
    [InlineData("Headroom:Oom:KillTimeout", "00:00:00", "Headroom:Oom:KillTimeout", "must be positive")]
    [InlineData("Headroom:WatermarkScaleFactor", "4000", "Headroom:WatermarkScaleFactor", "between 1 and 3000")]
    [InlineData("Headroom:Budgets:tenant:Capacity", "-5", "Headroom:Budgets:tenant:Capacity", "must be positive")]
    [InlineData("Headroom:Budgets:tenant:Capacity", "5000", "Headroom:Budgets:tenant:Capacity", "must not exceed the parent's capacity")]
    [InlineData("Headroom:Budgets:tenant:LowWatermark", "900", "Headroom:Budgets:tenant:LowWatermark", "between the min watermark")]
    [InlineData("Headroom:Budgets:tenant:Parent", "nobody", "Headroom:Budgets:tenant:Parent", "no budget is named 'nobody'")]
    [InlineData("Headroom:Sites:journal:MaxRetries", "-1", "Headroom:Sites:journal:MaxRetries", "must not be negative")]
    [InlineData("Headroom:Sites:journal:MaxWait", "00:00:00", "Headroom:Sites:journal:MaxWait", "must be positive")]
    [InlineData("Headroom:MemoryCacheBudget", "nobody", "Headroom:MemoryCacheBudget", "no budget is named 'nobody'")]
    [InlineData("Headroom:HeadroomBytes", "100", "Headroom:HeadroomBytes", "set one or the other")]
    public async Task An_invalid_value_fails_the_start_naming_its_key(string key, string value, string named, string rule)
    {
        Dictionary<string, string?> settings = TestHosts.FlatRoot();
        settings["Headroom:Budgets:tenant:Capacity"] = "500";
        settings["Headroom:Budgets:tenant:MinWatermark"] = "100";
        settings["Headroom:Budgets:tenant:HighWatermark"] = "400";
        settings[key] = value;
        IHost host = TestHosts.Build(settings);

        OptionsValidationException e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        string failure = Assert.Single(e.Failures);
        Assert.StartsWith(named + ": ", failure, StringComparison.Ordinal);
        Assert.Contains(rule, failure, StringComparison.Ordinal);
        Assert.Contains(named, e.Message, StringComparison.Ordinal);
        host.Dispose();
    }

    [Theory]
    [InlineData("Headroom:Capacity")]
    [InlineData("Headroom:Budgets:tenant:Capacity")] // the binder drops such an entry silently; validation brings its message back
    [InlineData("Headroom:Sites:journal:MaxWait")]
    public async Task A_value_that_does_not_convert_fails_the_start_naming_its_key(string key)
    {
        Dictionary<string, string?> settings = TestHosts.FlatRoot();
        settings["Headroom:Budgets:tenant:Capacity"] = "500";
        settings[key] = "lots";
        IHost host = TestHosts.Build(settings);

        Exception e = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());

        Assert.True(e is OptionsValidationException or InvalidOperationException, e.ToString());
        Assert.Contains($"'lots' at '{key}'", e.Message, StringComparison.Ordinal); // the binder's own message
        host.Dispose();
    }

    [Fact]
    public async Task Every_bad_value_is_reported_at_once_and_a_child_of_a_refused_budget_is_not_reported_again()
    {
        Dictionary<string, string?> settings = TestHosts.FlatRoot();
        settings["Headroom:Budgets:tenant:Capacity"] = "0";
        settings["Headroom:Budgets:tenant-a:Parent"] = "tenant";
        settings["Headroom:Budgets:tenant-a:Capacity"] = "10";
        settings["Headroom:Budgets:loop-a:Parent"] = "loop-b";
        settings["Headroom:Budgets:loop-a:Capacity"] = "10";
        settings["Headroom:Budgets:loop-b:Parent"] = "loop-a";
        settings["Headroom:Budgets:loop-b:Capacity"] = "10";
        settings["Headroom:Sites:journal:RetryForever"] = "true";
        settings["Headroom:Sites:journal:MaxRetries"] = "3";
        IHost host = TestHosts.Build(settings);

        OptionsValidationException e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Equal(3, e.Failures.Count());
        Assert.Contains(e.Failures, static f => f.StartsWith("Headroom:Budgets:tenant:Capacity: ", StringComparison.Ordinal));
        Assert.Contains(e.Failures, static f => f.StartsWith("Headroom:Budgets:loop-", StringComparison.Ordinal) && f.Contains("cycle", StringComparison.Ordinal));
        Assert.Contains(e.Failures, static f => f.StartsWith("Headroom:Sites:journal:RetryForever: ", StringComparison.Ordinal));
        host.Dispose();
    }

    [Fact]
    public async Task A_child_cannot_take_the_roots_name()
    {
        Dictionary<string, string?> settings = TestHosts.FlatRoot();
        settings["Headroom:Budgets:engine:Capacity"] = "10";
        IHost host = TestHosts.Build(settings);

        OptionsValidationException e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.StartsWith("Headroom:Budgets:engine: a child cannot take the root's name", Assert.Single(e.Failures), StringComparison.Ordinal);
        host.Dispose();
    }

    [Fact]
    public async Task A_reclaimer_for_an_unknown_budget_fails_the_start()
    {
        IHost host = TestHosts.Build(TestHosts.FlatRoot(), headroom: h => h.AddReclaimer<Reclaim.HeldBytes>(new ReclaimerOptions(), budget: "nobody"));

        OptionsValidationException e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("no budget is named 'nobody'", Assert.Single(e.Failures), StringComparison.Ordinal);
        host.Dispose();
    }
}
