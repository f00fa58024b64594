using Headroom.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Headroom.Extensions.Hosting.Tests.Reclaim;

/// <summary>Reclaimers added through the builder are registered on their budget at start and leave with the tree.</summary>
public sealed class ReclaimerRegistrationTests
{
    private static readonly ReclaimerOptions Inline = new() { Domain = "held", Timeout = Timeout.InfiniteTimeSpan };

    [Fact]
    public async Task A_reclaimer_made_by_Headroom_frees_memory_for_its_budget_and_is_disposed_with_the_tree()
    {
        var ledger = new HeldBytesLedger();
        IHost host = TestHosts.Build(TestHosts.FlatRoot(), configure: b => b.Services.AddSingleton(ledger), headroom: h => h.AddBudget("tenant", 500).AddReclaimer<HeldBytes>(Inline, budget: "tenant"));
        await host.StartAsync();
        HeadroomBudgets budgets = host.Services.GetRequiredService<HeadroomBudgets>();
        MemoryBudget tenant = budgets["tenant"];
        HeldBytes held = Assert.Single(ledger.Made); // made at start, before anyone asked for the tree
        held.Hold(tenant, 400);

        Assert.True(tenant.TryCharge(300, AllocationMode.MayFail)); // 400 + 300 > 500: reclaim takes at least 200 from the reclaimer
        Assert.True(held.Calls > 0);
        Assert.Equal(300 + held.GetReclaimableBytes(), tenant.Used);
        tenant.Uncharge(300);

        await TestHosts.StopAsync(host);
        Assert.True(held.Disposed); // made by Headroom, so disposed with the tree; it gave back what it held
        TestBudgets.AssertEmpty(budgets.Root, tenant);
    }

    [Fact]
    public async Task A_reclaimer_the_container_holds_is_used_and_stays_the_containers()
    {
        var mine = new HeldBytes();
        IHost host = TestHosts.Build(TestHosts.FlatRoot(), configure: b => b.Services.AddSingleton(mine), headroom: h => h.AddReclaimer<HeldBytes>(Inline));
        await host.StartAsync();
        MemoryBudget root = host.Services.GetRequiredService<MemoryBudget>();
        mine.Hold(root, 1000);

        root.Charge(100, AllocationMode.RetryMayFail);
        Assert.True(mine.Calls > 0);
        Assert.Equal(100 + mine.GetReclaimableBytes(), root.Used);
        root.Uncharge(100);

        await TestHosts.StopAsync(host);
        Assert.False(mine.Disposed); // the container's instance stays its owner's
        mine.Dispose(); // the test's own: it gives back what it holds (an uncharge stays allowed after the budget's dispose)
        TestBudgets.AssertEmpty(root);
    }

    [Fact]
    public async Task An_asynchronous_reclaimer_is_registered_as_one()
    {
        var mine = new HeldBytesAsync();
        IHost host = TestHosts.Build(TestHosts.FlatRoot(), configure: b => b.Services.AddSingleton(mine), headroom: h => h.AddAsyncReclaimer<HeldBytesAsync>(Inline));
        await host.StartAsync();
        MemoryBudget root = host.Services.GetRequiredService<MemoryBudget>();
        mine.Hold(root, 1000);

        await root.ChargeAsync(300, AllocationMode.MayFail);
        Assert.True(mine.Calls > 0);
        Assert.Equal(300 + mine.GetReclaimableBytes(), root.Used);
        root.Uncharge(300);

        await TestHosts.StopAsync(host);
        mine.Release();
        TestBudgets.AssertEmpty(root);
    }

    [Fact]
    public async Task A_host_disposed_synchronously_disposes_the_tree_too()
    {
        var ledger = new HeldBytesLedger();
        IHost host = TestHosts.Build(TestHosts.FlatRoot(), configure: b => b.Services.AddSingleton(ledger), headroom: h => h.AddReclaimer<HeldBytes>(Inline));
        await host.StartAsync();
        MemoryBudget root = host.Services.GetRequiredService<MemoryBudget>();
        Assert.Single(ledger.Made).Hold(root, 200);

        await host.StopAsync();
        host.Dispose();

        Assert.True(root.IsDisposed);
        Assert.True(ledger.Made[0].Disposed);
        TestBudgets.AssertEmpty(root);
    }

    /// <summary>An asynchronous reclaimer over bytes the test charged on its behalf.</summary>
    public sealed class HeldBytesAsync : IAsyncMemoryReclaimer
    {
        private MemoryBudget? _budget;
        private long _held;

        public int Calls { get; private set; }

        public void Hold(MemoryBudget budget, long bytes)
        {
            budget.Charge(bytes, AllocationMode.NoWait);
            _budget = budget;
            _held += bytes;
        }

        public long GetReclaimableBytes() => Interlocked.Read(ref _held);

        public async ValueTask<long> ReclaimAsync(long target, CancellationToken cancellationToken)
        {
            Calls++;
            await Task.Yield();
            long freed = Math.Min(target, _held);
            _held -= freed;
            if (freed > 0)
            {
                _budget!.Uncharge(freed);
            }

            return freed;
        }

        public void Release()
        {
            if (_held > 0)
            {
                _budget!.Uncharge(_held);
                _held = 0;
            }
        }
    }
}
