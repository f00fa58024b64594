namespace Headroom.Tests.Budgets;

/// <summary>Semantics §10: bad input gets a specific exception naming the value and the rule, and changes nothing.</summary>
public sealed class BadInputTests
{
    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(long.MinValue)]
    [InlineData(101L)]
    [InlineData(long.MaxValue)]
    public async Task A_size_that_is_not_positive_or_above_capacity_is_refused_by_every_call(long bytes)
    {
        using MemoryBudget budget = TestBudgets.Flat(100);
        budget.Charge(10, AllocationMode.NoWait);

        string value = bytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (Exception e in new Exception[]
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => budget.TryCharge(bytes)),
            Assert.Throws<ArgumentOutOfRangeException>(() => budget.Charge(bytes, AllocationMode.NoFail)),
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => budget.ChargeAsync(bytes, AllocationMode.MayFail).AsTask()),
        })
        {
            Assert.Equal("bytes", ((ArgumentOutOfRangeException)e).ParamName);
            Assert.Contains(value, e.Message, StringComparison.Ordinal);
        }

        Assert.Equal(10, budget.Used);
        budget.Uncharge(10);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public void Uncharging_more_than_is_charged_is_refused_and_changes_nothing()
    {
        using MemoryBudget root = TestBudgets.Flat(100, "root");
        MemoryBudget child = root.CreateChild(TestBudgets.FlatChild("child", 100));
        child.Charge(30, AllocationMode.NoWait);

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => child.Uncharge(31));
        Assert.Contains("31", e.Message, StringComparison.Ordinal);
        Assert.Contains("only 30 bytes", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => child.Uncharge(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => child.Uncharge(-5));
        Assert.Equal((30, 30), (child.Used, root.Used));

        child.Uncharge(30);
        Assert.Throws<ArgumentOutOfRangeException>(() => root.Uncharge(1));
        TestBudgets.AssertEmpty(root, child);
    }

    [Fact]
    public void Undefined_modes_and_priorities_are_refused()
    {
        using MemoryBudget budget = TestBudgets.Flat(100);
        Assert.Equal("mode", Assert.Throws<ArgumentOutOfRangeException>(() => budget.TryCharge(1, (AllocationMode)7)).ParamName);
        Assert.Equal("priority", Assert.Throws<ArgumentOutOfRangeException>(() => budget.TryCharge(1, AllocationMode.NoWait, (AllocationPriority)(-1))).ParamName);
        TestBudgets.AssertEmpty(budget);
    }

    [Fact]
    public async Task Use_after_dispose_throws_but_uncharge_still_unwinds()
    {
        var budget = TestBudgets.Flat(100);
        budget.Charge(10, AllocationMode.NoWait);
        budget.Dispose();

        Assert.Throws<ObjectDisposedException>(() => budget.TryCharge(1));
        Assert.Throws<ObjectDisposedException>(() => budget.Charge(1, AllocationMode.NoFail));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => budget.ChargeAsync(1, AllocationMode.NoFail).AsTask());
        Assert.Throws<ObjectDisposedException>(() => budget.CreateChild("child", 10));
        budget.Dispose();

        budget.Uncharge(10);
        TestBudgets.AssertEmpty(budget);
    }
}
