using System.Buffers;
using Microsoft.AspNetCore.Connections;

namespace Headroom.AspNetCore.Tests.Transport;

/// <summary>The factory's pools against the budget's counters: what a rent draws, what a return keeps, what disposal gives back.</summary>
public sealed class BudgetMemoryPoolFactoryTests
{
    [Fact]
    public void Kestrels_4KiB_block_draws_exactly_4096_bytes_from_the_transports_reservation()
    {
        using MemoryBudget budget = Budgets.Flat(1 << 20);
        var factory = new BudgetMemoryPoolFactory(budget, 64 << 10);
        Assert.Equal(0, budget.Reserved); // reserved by the first pool, when Kestrel binds
        MemoryPool<byte> pool = factory.Create(new MemoryPoolOptions { Owner = "kestrel" });
        MemoryReservation reservation = factory.Reservation!;
        Assert.Equal(ReservationMode.Tokens, reservation.Mode);
        Assert.Equal(64 << 10, budget.Reserved);

        IMemoryOwner<byte> block = pool.Rent(); // Kestrel's default size
        Assert.Equal(4096, block.Memory.Length);
        Assert.Equal(4096, reservation.Drawn);
        Assert.Equal(4096, budget.Used);
        IMemoryOwner<byte> hinted = pool.Rent(2048); // a socket read's minimum: served as the 2 KiB class
        Assert.Equal(2048, hinted.Memory.Length);
        Assert.Equal(4096 + 2048, reservation.Drawn);

        block.Dispose();
        IMemoryOwner<byte> again = pool.Rent(4096); // the returned block, still charged, serves the next rent
        Assert.Equal(4096 + 2048, reservation.Drawn);
        again.Dispose();
        hinted.Dispose();

        MemoryPool<byte> second = factory.Create(); // another transport's pool shares the one reservation
        using (second.Rent())
        {
            Assert.Equal(64 << 10, budget.Reserved + budget.Used);
        }

        pool.Dispose();
        second.Dispose();
        factory.Dispose();
        Assert.Throws<ObjectDisposedException>(() => factory.Create());
        Budgets.AssertEmpty(budget);
    }

    [Fact]
    public void Beyond_the_reservation_a_rent_fails_fast_and_changes_nothing()
    {
        using MemoryBudget budget = Budgets.Flat(1 << 20);
        using var factory = new BudgetMemoryPoolFactory(budget, 8192);
        using MemoryPool<byte> pool = factory.Create();
        using MemoryReservation rest = budget.TryReserve(budget.Available, out MemoryReservation? r) ? r : throw new InvalidOperationException("setup");
        using IMemoryOwner<byte> first = pool.Rent();
        using IMemoryOwner<byte> second = pool.Rent();
        long used = budget.Used;
        Assert.Throws<MemoryAllocationException>(() => pool.Rent()); // NoWait: an I/O thread is never blocked
        Assert.Equal(used, budget.Used);
        Assert.Equal(8192, factory.Reservation!.Drawn);
        first.Dispose();
        second.Dispose();
        pool.Dispose();
        factory.Dispose();
        rest.Dispose();
        Budgets.AssertEmpty(budget);
    }

    [Fact]
    public void Without_a_reservation_every_rent_is_a_charge_of_the_budget()
    {
        using MemoryBudget budget = Budgets.Flat(1 << 20);
        using var factory = new BudgetMemoryPoolFactory(budget, 0);
        using MemoryPool<byte> pool = factory.Create();
        Assert.Null(factory.Reservation);
        using (IMemoryOwner<byte> block = pool.Rent())
        {
            Assert.Equal(4096, budget.Used);
            Assert.Equal(0, budget.Reserved);
        }

        pool.Dispose();
        Budgets.AssertEmpty(budget);
    }

    [Fact]
    public void A_reservation_the_budget_cannot_grant_fails_the_first_pool_and_says_why()
    {
        using MemoryBudget budget = Budgets.Flat(1 << 20);
        using var never = new BudgetMemoryPoolFactory(budget, (1 << 20) + 1);
        InvalidOperationException e = Assert.Throws<InvalidOperationException>(() => never.Create());
        Assert.Contains("can never fit", e.Message, StringComparison.Ordinal);

        using MemoryReservation held = budget.TryReserve(1 << 19, out MemoryReservation? r) ? r : throw new InvalidOperationException("setup");
        using var notNow = new BudgetMemoryPoolFactory(budget, (1 << 19) + 1);
        e = Assert.Throws<InvalidOperationException>(() => notNow.Create());
        Assert.Contains("not granted", e.Message, StringComparison.Ordinal);
        Assert.Equal(1 << 19, budget.Reserved); // nothing left behind
        held.Dispose();
        Budgets.AssertEmpty(budget);
    }

    [Theory]
    [InlineData(-1, AllocationMode.NoWait, "reservedBytes", "-1")]
    [InlineData(0, AllocationMode.NoFail, "overflowMode", "NoFail")]
    [InlineData(0, AllocationMode.RetryMayFail, "overflowMode", "RetryMayFail")]
    public void Bad_arguments_are_refused_naming_the_parameter_and_the_value(long reserved, AllocationMode mode, string parameter, string value)
    {
        using MemoryBudget budget = Budgets.Flat(1 << 20);
        ArgumentOutOfRangeException e = Assert.Throws<ArgumentOutOfRangeException>(() => new BudgetMemoryPoolFactory(budget, reserved, mode));
        Assert.Equal(parameter, e.ParamName); // the constructor's parameter: the caller never saw a TransportMemoryOptions
        Assert.Contains($"it was {value}", e.Message, StringComparison.Ordinal);
        Budgets.AssertEmpty(budget);
    }

    [Fact]
    public void The_reservation_is_sized_from_kestrels_connection_and_buffer_limits()
    {
        Assert.Equal(10 * ((1L << 20) + (64 << 10) + 8192), TransportMemoryOptions.SizeFromLimits(10, 1 << 20, 1 << 20, 64 << 10, 64 << 10));
        Assert.Equal(2 * ((2L << 20) + (128 << 10) + 8192), TransportMemoryOptions.SizeFromLimits(2, 1 << 20, 2 << 20, 128 << 10, null));
        Assert.Contains("MaxConcurrentConnections", Assert.Throws<InvalidOperationException>(() => TransportMemoryOptions.SizeFromLimits(null, 1, 1, 1, 1)).Message, StringComparison.Ordinal);
        Assert.Contains("unlimited", Assert.Throws<InvalidOperationException>(() => TransportMemoryOptions.SizeFromLimits(4, null, null, 1, 1)).Message, StringComparison.Ordinal);
    }
}
