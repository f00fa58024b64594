namespace Headroom.Tests.Budgets;

/// <summary>
/// Semantics §7: charges are attributed to the consumer that made them, and an uncharge credits it back, whether the
/// bytes go to Committed or into this thread's stock (§1). Mutation testing found the stock's path unchecked: an
/// uncharge taken by the stock left the consumer's count as it was (or doubled it), which is its OOM badness.
/// </summary>
public sealed class StockedUnchargeCreditTests
{
    private const long MiB = 1L << 20;
    private const long KiB = 1024;

    [Fact]
    public void An_uncharge_into_this_threads_stock_credits_the_consumer_that_charged()
    {
        using MemoryBudget budget = TestBudgets.Flat(16 * MiB); // large enough for stocks
        using var cancellation = new CancellationTokenSource();
        using MemoryConsumer consumer = budget.RegisterConsumer("worker", cancellation);

        using (consumer.Enter())
        {
            budget.Charge(4 * KiB, AllocationMode.NoWait); // refills this thread's stock, then takes from it
            budget.Charge(4 * KiB, AllocationMode.NoWait); // from the stock
            Assert.Equal(8 * KiB, consumer.Charged);
            Assert.True(budget.Stocked > 0);

            budget.Uncharge(4 * KiB); // into the stock
            Assert.Equal(4 * KiB, consumer.Charged);
            budget.Uncharge(4 * KiB);
        }

        Assert.Equal(0, consumer.Charged);
        TestBudgets.AssertEmpty(budget);
    }
}
