namespace Headroom.Tests.Reservations;

/// <summary>Guarantee G1 under attack: real threads exhaust the budget while holders run their transactions.</summary>
public sealed class GuaranteeTests
{
    private const int Holders = 4;
    private const int Transactions = 150;
    private const int ChargesPerTransaction = 16;
    private const int ChargeSize = 1024;

    [Fact]
    public async Task Holders_never_wait_or_fail_while_others_exhaust_the_budget()
    {
        using var budget = new MemoryBudget(new MemoryBudgetOptions
        {
            Capacity = 1 << 20,
            MinWatermark = 64 << 10,
            LowWatermark = 96 << 10,
            HighWatermark = 128 << 10,
            CanaryInterval = Timeout.InfiniteTimeSpan,
        });
        using var stop = new CancellationTokenSource();
        int waited = 0, failed = 0, transactions = 0;
        long drawnUnderPressure = 0;

        // A hog leaves room for one transaction's reservation below the limit of NoFail and of admission (capacity −
        // min): while a transaction runs, ordinary memory is gone, and the antagonists queue for every byte returned.
        long hog = budget.Capacity - budget.MinWatermark - (ChargesPerTransaction * ChargeSize);
        budget.Charge(hog, AllocationMode.NoWait);
        Task[] antagonists = [.. Enumerable.Range(0, 3).Select(_ => Task.Run(() => Exhaust(budget, stop.Token)))];
        Task[] holders = [.. Enumerable.Range(0, Holders).Select(h => Task.Run(async () =>
        {
            ReservationMode mode = h % 2 == 0 ? ReservationMode.Watermark : ReservationMode.Tokens;
            for (int t = 0; t < Transactions; t++)
            {
                await using MemoryReservation r = await budget.ReserveAsync(ChargesPerTransaction * ChargeSize, mode);
                long charged = 0;
                using (r.Enter())
                {
                    for (int c = 0; c < ChargesPerTransaction; c++)
                    {
                        if (c % 2 == 0)
                        {
                            ValueTask charge = budget.ChargeAsync(ChargeSize, AllocationMode.NoFail);
                            if (!charge.IsCompletedSuccessfully)
                            {
                                Interlocked.Increment(ref waited);
                            }

                            await charge;
                            charged += ChargeSize;
                        }
                        else if (r.TryCharge(ChargeSize))
                        {
                            charged += ChargeSize;
                        }
                        else
                        {
                            Interlocked.Increment(ref failed);
                        }
                    }
                }

                if (mode == ReservationMode.Watermark)
                {
                    Interlocked.Add(ref drawnUnderPressure, r.Drawn); // drawn only when ordinary memory would have failed
                }

                budget.Uncharge(charged);
                Interlocked.Increment(ref transactions);
            }
        }))];

        await Task.WhenAll(holders).WaitAsync(TimeSpan.FromSeconds(30)); // a holder that waits can deadlock: fail, not hang
        await stop.CancelAsync();
        await Task.WhenAll(antagonists).WaitAsync(TimeSpan.FromMinutes(1));
        budget.Uncharge(hog);

        Assert.Equal(Holders * Transactions, transactions);
        Assert.Equal(0, waited);
        Assert.Equal(0, failed);
        Assert.True(drawnUnderPressure > 0, "the antagonists never exhausted ordinary memory: the test proved nothing");
        TestBudgets.AssertEmpty(budget);
    }

    /// <summary>Grabs every byte that comes free with NoFail charges and tries MayFail ones; holds nothing while it waits.</summary>
    private static async Task Exhaust(MemoryBudget budget, CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await budget.ChargeAsync(4 << 10, AllocationMode.NoFail, cancellationToken: stop);
                if (budget.TryCharge(4 << 10, AllocationMode.MayFail))
                {
                    budget.Uncharge(4 << 10);
                }

                await Task.Yield();
                budget.Uncharge(4 << 10);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
