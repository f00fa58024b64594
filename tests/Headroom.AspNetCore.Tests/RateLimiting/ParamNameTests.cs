using System.Threading.RateLimiting;

namespace Headroom.AspNetCore.Tests.RateLimiting;

/// <summary>Semantics §10 for the ASP.NET Core surface: each bad call names its parameter (or option) and value, a use after dispose names the budget, and nothing is charged or reserved.</summary>
public sealed class ParamNameTests
{
    public static TheoryData<string> Calls => new(Catalog.Keys);

    private static readonly Dictionary<string, (Action<MemoryBudget> Call, Type Exception, string? ParamName, string Value)> Catalog = new(StringComparer.Ordinal)
    {
        ["MemoryRateLimiter(null budget)"] = (b => _ = new MemoryRateLimiter(null!), typeof(ArgumentNullException), "budget", "null"),
        ["MemoryRateLimiter(BytesPerPermit 0)"] = (b => _ = new MemoryRateLimiter(b, new MemoryRateLimiterOptions { BytesPerPermit = 0 }), typeof(ArgumentOutOfRangeException), "BytesPerPermit", "0"),
        ["MemoryRateLimiter(QueueLimit -1)"] = (b => _ = new MemoryRateLimiter(b, new MemoryRateLimiterOptions { QueueLimit = -1 }), typeof(ArgumentOutOfRangeException), "QueueLimit", "-1"),
        ["MemoryRateLimiter(RetryAfter negative)"] = (b => _ = new MemoryRateLimiter(b, new MemoryRateLimiterOptions { RetryAfter = TimeSpan.FromSeconds(-1) }), typeof(ArgumentOutOfRangeException), "RetryAfter", TimeSpan.FromSeconds(-1).ToString()),
        ["MemoryRateLimiter(TimeProvider null)"] = (b => _ = new MemoryRateLimiter(b, new MemoryRateLimiterOptions { TimeProvider = null! }), typeof(ArgumentNullException), "TimeProvider", "null"),
        ["limiter.AttemptAcquire(above the limit)"] = (b => { using var l = new MemoryRateLimiter(b, new MemoryRateLimiterOptions { BytesPerPermit = 100 }); l.AttemptAcquire(1000); }, typeof(ArgumentOutOfRangeException), "permitCount", "1000"),
        ["disposed limiter.AttemptAcquire"] = (b => { var l = new MemoryRateLimiter(b); l.Dispose(); l.AttemptAcquire(1); }, typeof(ObjectDisposedException), null, "'flat'"),
        ["BudgetMemoryPoolFactory(null budget)"] = (b => _ = new BudgetMemoryPoolFactory(null!, 0), typeof(ArgumentNullException), "budget", "null"),
        ["BudgetMemoryPoolFactory(reservedBytes -1)"] = (b => _ = new BudgetMemoryPoolFactory(b, -1), typeof(ArgumentOutOfRangeException), "reservedBytes", "-1"),
        ["BudgetMemoryPoolFactory(overflowMode NoFail)"] = (b => _ = new BudgetMemoryPoolFactory(b, 0, AllocationMode.NoFail), typeof(ArgumentOutOfRangeException), "overflowMode", "NoFail"),
        ["disposed factory.Create"] = (b => { var f = new BudgetMemoryPoolFactory(b, 0); f.Dispose(); f.Create(); }, typeof(ObjectDisposedException), null, "'flat'"),
        ["MemoryAdmissionAttribute(-1)"] = (b => _ = new MemoryAdmissionAttribute(-1), typeof(ArgumentOutOfRangeException), "estimateBytes", "-1"),
    };

    [Theory]
    [MemberData(nameof(Calls))]
    public void A_refused_call_names_its_parameter_and_value_and_leaves_the_budget_empty(string call)
    {
        (Action<MemoryBudget> act, Type exception, string? paramName, string value) = Catalog[call];
        using MemoryBudget budget = Budgets.Flat(10_000);

        Exception? e = Record.Exception(() => act(budget));

        Assert.NotNull(e);
        Assert.IsType(exception, e);
        if (e is ObjectDisposedException disposed)
        {
            Assert.Contains(value, disposed.ObjectName, StringComparison.Ordinal);
            Assert.Contains(value, disposed.Message, StringComparison.Ordinal);
        }
        else
        {
            var argument = (ArgumentException)e;
            Assert.Equal(paramName, argument.ParamName);
            Assert.Contains(value, argument.Message, StringComparison.Ordinal);
        }

        Budgets.AssertEmpty(budget);
    }

    [Fact]
    public void Over_a_disposed_budget_the_limiter_and_the_factory_name_it()
    {
        MemoryBudget budget = Budgets.Flat(10_000, "gone");
        budget.Dispose();
        Assert.Equal("gone", Assert.Throws<ObjectDisposedException>(() => new MemoryRateLimiter(budget)).ObjectName);
        Assert.Equal("gone", Assert.Throws<ObjectDisposedException>(() => new BudgetMemoryPoolFactory(budget, 0)).ObjectName);
    }
}
