using Polly;
using Polly.RateLimiting;

namespace Headroom.AspNetCore.Tests.RateLimiting;

/// <summary>The limiter as Polly v8's rate-limiter strategy uses it: one permit per execution, held while it runs.</summary>
public sealed class PollyRateLimiterTests
{
    private const long MiB = 1L << 20;

    [Fact]
    public async Task Executions_hold_a_permits_bytes_while_they_run_and_one_past_the_budget_is_rejected()
    {
        using MemoryBudget budget = Budgets.Flat(2 * MiB);
        using var limiter = new MemoryRateLimiter(budget, new MemoryRateLimiterOptions { BytesPerPermit = MiB });
        ResiliencePipeline pipeline = new ResiliencePipelineBuilder().AddRateLimiter(limiter).Build();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int running = 0;

        async ValueTask Hold(CancellationToken token)
        {
            Interlocked.Increment(ref running);
            await release.Task.WaitAsync(TimeSpan.FromSeconds(10), token);
        }

        Task first = pipeline.ExecuteAsync(Hold).AsTask();
        Task second = pipeline.ExecuteAsync(Hold).AsTask();
        await Budgets.Until(() => Volatile.Read(ref running) == 2, "both executions to start");
        Assert.Equal(2 * MiB, budget.Reserved); // each holds its permit as a reservation of 1 MiB

        RateLimiterRejectedException rejected = await Assert.ThrowsAsync<RateLimiterRejectedException>(() => pipeline.ExecuteAsync(Hold).AsTask());
        Assert.NotNull(rejected.Message);
        Assert.Equal(2, Volatile.Read(ref running)); // the rejected one never ran
        Assert.Equal(2 * MiB, budget.Reserved); // and changed nothing

        release.SetResult();
        await Task.WhenAll(first, second);
        Assert.Equal(0, budget.Reserved);
        await pipeline.ExecuteAsync(static _ => ValueTask.CompletedTask); // a permit is free again
        Budgets.AssertEmpty(budget);
    }
}
