using CsCheck;
using Microsoft.Extensions.Time.Testing;

namespace Headroom.Tests.Pressure;

/// <summary>
/// Any timeline of stalls and idle stretches (overlapping waiters included), read at any moments: the lazy averages
/// equal the ledger's, which replays psi period by period. Catches an error in closing, splitting or skipping periods.
/// </summary>
public sealed class StallAverageProperties
{
    /// <summary>One step: wait <c>Gap</c> ms, then park a waiter (or grant the oldest), then maybe read.</summary>
    /// <remarks>Now and then a gap of up to an hour and a half: long enough for a stalled run to settle at 100 % and be skipped.</remarks>
    private static readonly Gen<(int Gap, bool Park, bool Read)> Step =
        Gen.Select(Gen.Frequency((19, Gen.Int[0, 30_000]), (1, Gen.Int[0, 5_400_000])), Gen.Bool, Gen.Bool);

    [Fact]
    public void Lazy_averages_equal_psi_replayed_period_by_period()
    {
        Step.Array[1, 40].Sample(Run, iter: 150);
    }

    private static void Run((int Gap, bool Park, bool Read)[] steps)
    {
        var clock = new FakeTimeProvider();
        MemoryBudgetOptions options = TestBudgets.Flat("property", 100);
        options.TimeProvider = clock;
        using var budget = new MemoryBudget(options);
        budget.Charge(100, AllocationMode.NoWait);
        var ledger = new PsiLedger();
        var waiting = new Queue<(Task Wait, TimeSpan Since)>();
        TimeSpan now = TimeSpan.Zero;
        foreach ((int gap, bool park, bool read) in steps)
        {
            clock.Advance(TimeSpan.FromMilliseconds(gap));
            now += TimeSpan.FromMilliseconds(gap);
            if (park || waiting.Count == 0)
            {
                waiting.Enqueue((budget.ChargeAsync(1, AllocationMode.NoFail).AsTask(), now));
            }
            else
            {
                (Task wait, TimeSpan since) = waiting.Dequeue();
                budget.Uncharge(1); // grants the oldest, who takes the byte back
                Assert.True(wait.IsCompletedSuccessfully);
                ledger.Stalled(since, now);
            }

            if (read)
            {
                var view = new PsiLedger();
                ledger.CopyTo(view);
                foreach ((Task _, TimeSpan since) in waiting)
                {
                    view.Stalled(since, now); // the stalls in progress, up to now
                }

                Assert.Equal(view.At(now), budget.Pressure.Some);
            }
        }

        while (waiting.TryDequeue(out (Task Wait, TimeSpan Since) left))
        {
            budget.Uncharge(1);
            Assert.True(left.Wait.IsCompletedSuccessfully);
        }

        budget.Uncharge(100);
        TestBudgets.AssertEmpty(budget);
    }
}
