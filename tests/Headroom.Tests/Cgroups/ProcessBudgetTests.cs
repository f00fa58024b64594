using Headroom.Cgroups;

namespace Headroom.Tests.Cgroups;

/// <summary>MemoryBudget.ForProcess: capacity = the limit the reader found, less the fixed headroom; bad settings refused up front.</summary>
public sealed class ProcessBudgetTests : IDisposable
{
    private const long MiB = 1L << 20;
    private readonly FixtureTree _tree = new();
    private readonly ProcessMemoryLimit _limit;

    public ProcessBudgetTests()
    {
        _tree.Write("/proc/self/mountinfo", FixtureTree.V2Mounts);
        _tree.Write("/proc/self/cgroup", "0::/app\n");
        _tree.V2Group("/sys/fs/cgroup/app", $"{200 * MiB}", current: 20 * MiB, inactive: 0);
        _limit = ProcessMemoryLimit.From(new CgroupReader(_tree.Root).Read());
    }

    public void Dispose() => _tree.Dispose();

    [Fact]
    public void Default_headroom_is_a_quarter_of_the_limit()
    {
        using MemoryBudget budget = MemoryBudget.ForProcess(new ProcessBudgetOptions(), _limit);

        Assert.Equal(150 * MiB, budget.Capacity);
        Assert.Same(_limit, budget.ProcessLimit);
        Assert.Equal("process", budget.Name);
        Assert.Equal(MemoryLimitSource.CgroupV2, budget.ProcessLimit!.Source);
    }

    [Fact]
    public void Fixed_bytes_and_fractions_leave_what_they_say_and_the_callers_options_are_unchanged()
    {
        var options = new ProcessBudgetOptions { HeadroomBytes = 48 * MiB, Budget = new MemoryBudgetOptions { Name = "svc", WatermarkScaleFactor = 100 } };
        using (MemoryBudget bytes = MemoryBudget.ForProcess(options, _limit))
        {
            Assert.Equal(152 * MiB, bytes.Capacity);
            Assert.Equal("svc", bytes.Name);
            bytes.Charge(10 * MiB, AllocationMode.NoWait);
            Assert.Equal(10 * MiB, bytes.Used);
            bytes.Uncharge(10 * MiB);
            Assert.Equal(0, bytes.Used);
            Assert.Equal(0, bytes.Reserved);
        }

        Assert.Equal(0, options.Budget.Capacity);
        using MemoryBudget fraction = MemoryBudget.ForProcess(new ProcessBudgetOptions { HeadroomFraction = 0.1 }, _limit);
        Assert.Equal(200 * MiB - (long)Math.Ceiling(200 * MiB * 0.1), fraction.Capacity);
        using MemoryBudget none = MemoryBudget.ForProcess(new ProcessBudgetOptions { HeadroomBytes = 0 }, _limit);
        Assert.Equal(200 * MiB, none.Capacity);
    }

    [Fact]
    public void Headroom_that_leaves_nothing_is_refused_naming_the_option_the_limit_and_its_source()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => MemoryBudget.ForProcess(new ProcessBudgetOptions { HeadroomBytes = 200 * MiB }, _limit));

        Assert.Equal(nameof(ProcessBudgetOptions.HeadroomBytes), e.ParamName);
        Assert.Contains($"under the process's limit of {200 * MiB} bytes (cgroup v2 /sys/fs/cgroup/app", e.Message, StringComparison.Ordinal);
        Assert.Contains("the headroom must be less than the limit", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-1L, null, nameof(ProcessBudgetOptions.HeadroomBytes), "must be 0 or more")]
    [InlineData(null, 1.0, nameof(ProcessBudgetOptions.HeadroomFraction), "at least 0 and below 1")]
    [InlineData(null, -0.5, nameof(ProcessBudgetOptions.HeadroomFraction), "at least 0 and below 1")]
    [InlineData(null, double.NaN, nameof(ProcessBudgetOptions.HeadroomFraction), "at least 0 and below 1")]
    [InlineData(1L, 0.5, nameof(ProcessBudgetOptions.HeadroomFraction), "set at most one")]
    public void Bad_headroom_settings_are_refused_before_anything_is_read(long? bytes, double? fraction, string param, string rule)
    {
        var options = new ProcessBudgetOptions { HeadroomBytes = bytes, HeadroomFraction = fraction };

        ArgumentException e = Assert.ThrowsAny<ArgumentException>(() => MemoryBudget.ForProcess(options));

        Assert.Equal(param, e.ParamName);
        Assert.Contains(rule, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_capacity_set_by_the_caller_is_refused_because_the_limit_decides_it()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => MemoryBudget.ForProcess(new ProcessBudgetOptions { Budget = new MemoryBudgetOptions { Capacity = MiB } }));

        Assert.Equal("Budget.Capacity", e.ParamName);
        Assert.Contains("must be left 0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void On_this_machine_the_process_budget_is_the_real_limit_less_the_headroom()
    {
        using MemoryBudget budget = MemoryBudget.ForProcess(new ProcessBudgetOptions { HeadroomBytes = 64 * MiB });

        Assert.NotNull(budget.ProcessLimit);
        Assert.Equal(budget.ProcessLimit.LimitBytes - (64 * MiB), budget.Capacity);
        Assert.Equal(0, budget.Used);
    }
}
