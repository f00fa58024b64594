using CsCheck;
using Headroom.Stocks;

namespace Headroom.Tests.Stocks;

/// <summary>
/// Stocks against exact accounting (semantics §1), with real threads each holding a stock of its own: random charges
/// and uncharges at a root or its child, one step at a time on the thread the step names, each checked against a
/// model that knows nothing of stocks. Every grant and every refusal must be the model's, Used must be the model's
/// after every step, and at most capacity/16 may ever be stocked.
/// </summary>
public sealed class StockModelTests
{
    private const int Threads = 3;

    private sealed record Step(int Thread, bool AtChild, bool Uncharge, long Bytes, AllocationMode Mode);

    private static readonly Gen<(long Root, long Child)> Sizes =
        from root in Gen.Long[1L << 20, 4L << 20]
        from child in Gen.Long[root / 4, root]
        select (root, child);

    private static readonly Gen<Step> Steps =
        from thread in Gen.Int[0, Threads - 1]
        from atChild in Gen.Bool
        from uncharge in Gen.Frequency((3, Gen.Const(false)), (2, Gen.Const(true)))
        from bytes in Gen.Frequency((6, Gen.Long[1, 16 * 1024]), (2, Gen.Long[16 * 1024, 128 * 1024]), (1, Gen.Long[128 * 1024, 2L << 20]))
        from mode in Gen.Bool.Select(b => b ? AllocationMode.NoWait : AllocationMode.MayFail)
        select new Step(thread, atChild, uncharge, bytes, mode);

    [Fact]
    public void Stocks_grant_and_refuse_exactly_what_exact_accounting_does() =>
        Gen.Select(Sizes, Steps.Array[1, 80]).Sample((sizes, steps) => Run(sizes.Root, sizes.Child, steps), iter: 150, threads: 1);

    private static void Run(long rootCapacity, long childCapacity, Step[] steps)
    {
        using MemoryBudget root = TestBudgets.Flat(rootCapacity, "root");
        using MemoryBudget child = root.CreateChild(TestBudgets.FlatChild("child", childCapacity));
        var threads = new StockThread[Threads];
        for (int i = 0; i < Threads; i++)
        {
            threads[i] = new StockThread();
        }

        // The model: what each thread holds at each budget; a budget's Used is what its subtree holds.
        var held = new List<(int Thread, bool AtChild, long Bytes)>();
        long AtChild() => held.Where(h => h.AtChild).Sum(h => h.Bytes);
        long All() => held.Sum(h => h.Bytes);
        try
        {
            foreach (Step step in steps)
            {
                MemoryBudget budget = step.AtChild ? child : root;
                if (step.Uncharge)
                {
                    int index = held.FindIndex(h => h.AtChild == step.AtChild);
                    if (index < 0)
                    {
                        continue;
                    }

                    long bytes = held[index].Bytes;
                    held.RemoveAt(index);
                    threads[step.Thread].Run(() => budget.Uncharge(bytes)); // often not the thread that charged
                }
                else
                {
                    long bytes = Math.Min(step.Bytes, budget.Capacity);
                    bool fits = All() + bytes <= rootCapacity && (!step.AtChild || AtChild() + bytes <= childCapacity);
                    bool granted = false;
                    threads[step.Thread].Run(() => granted = budget.TryCharge(bytes, step.Mode));
                    Assert.True(fits == granted, $"{step} at {All()}/{rootCapacity} (child {AtChild()}/{childCapacity}): exact accounting {(fits ? "grants" : "refuses")} it, stocks {(granted ? "granted" : "refused")} it");
                    if (granted)
                    {
                        held.Add((step.Thread, step.AtChild, bytes));
                    }
                }

                Assert.Equal(All(), root.Used);
                Assert.Equal(AtChild(), child.Used);
                Assert.InRange(root.Stocked, 0, rootCapacity / 16);
                Assert.InRange(root.Committed, 0, rootCapacity);
                Assert.InRange(child.Committed, 0, childCapacity);
            }

            foreach ((int thread, bool atChild, long bytes) in held)
            {
                threads[thread].Run(() => (atChild ? child : root).Uncharge(bytes));
            }

            TestBudgets.AssertEmpty(child, root);
        }
        finally
        {
            foreach (StockThread thread in threads)
            {
                thread.Dispose();
            }
        }

        Assert.True(StockBounds.Batch(rootCapacity) > 0);
    }
}
