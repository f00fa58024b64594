using System.Buffers;
using System.Globalization;

namespace Headroom.Tests.Budgets;

/// <summary>
/// Semantics §10, over every public call that validates input: each bad call throws the specific exception, whose
/// <see cref="ArgumentException.ParamName"/> is the parameter the caller passed (or, for options, the property's path
/// from the options object the caller passed), whose own message names the value, and which changes no counter. A use
/// after dispose names the budget, reservation or consumer, not only the type.
/// </summary>
public sealed class ParamNameTests
{
    private static readonly Dictionary<string, BadCall> Catalog = BuildCatalog();

    public static TheoryData<string> Calls => new(Catalog.Keys);

    [Theory]
    [MemberData(nameof(Calls))]
    public async Task A_refused_call_names_its_parameter_and_value_and_changes_nothing(string call)
    {
        BadCall bad = Catalog[call];
        using var scene = new Scene();
        SceneState before = scene.Read();

        Exception? e = await Record.ExceptionAsync(() => bad.Call(scene));

        Assert.NotNull(e);
        Assert.IsType(bad.Exception, e);
        switch (e)
        {
            case ObjectDisposedException disposed:
                Assert.Contains(bad.Value, disposed.ObjectName, StringComparison.Ordinal);
                Assert.Contains(bad.Value, disposed.Message, StringComparison.Ordinal);
                break;
            case ArgumentException argument:
                Assert.Equal(bad.ParamName, argument.ParamName);
                Assert.Contains(bad.Value, OwnMessage(argument), StringComparison.Ordinal);
                break;
        }

        Assert.Equal(before, scene.Read());
    }

    /// <summary>The message the library wrote: without the " (Parameter 'x')" and "Actual value was" the BCL appends, which would name the value for it.</summary>
    private static string OwnMessage(ArgumentException e)
    {
        string message = e.Message;
        int parameter = message.IndexOf(" (Parameter '", StringComparison.Ordinal);
        return parameter < 0 ? message : message[..parameter];
    }

    private static string Text(object value) => Convert.ToString(value, CultureInfo.InvariantCulture)!;

    private static Dictionary<string, BadCall> BuildCatalog()
    {
        var c = new CallList();
        Type range = typeof(ArgumentOutOfRangeException), argument = typeof(ArgumentException), missing = typeof(ArgumentNullException), disposed = typeof(ObjectDisposedException);
        TimeSpan negative = TimeSpan.FromSeconds(-2);

        // new MemoryBudget(capacity) names its parameter, not the options it makes.
        c.Sync("MemoryBudget(0)", _ => new MemoryBudget(0), range, "capacity", "0");
        c.Sync("MemoryBudget(-5)", _ => new MemoryBudget(-5), range, "capacity", "-5");
        c.Sync("MemoryBudget(null)", _ => new MemoryBudget(null!), missing, "options", "null");

        // new MemoryBudget(options): the property's path from the options.
        foreach ((string name, Func<MemoryBudgetOptions> options, Type type, string param, string value) in new (string, Func<MemoryBudgetOptions>, Type, string, string)[]
        {
            ("Capacity 0", () => new() { Capacity = 0 }, range, "Capacity", "0"),
            ("Capacity -1", () => new() { Capacity = -1 }, range, "Capacity", "-1"),
            ("Name white", () => new() { Capacity = 10, Name = " " }, argument, "Name", "' '"),
            ("Name null", () => new() { Capacity = 10, Name = null! }, argument, "Name", "null"),
            ("WatermarkScaleFactor 0", () => new() { Capacity = 10, WatermarkScaleFactor = 0 }, range, "WatermarkScaleFactor", "0"),
            ("WatermarkScaleFactor 3001", () => new() { Capacity = 10, WatermarkScaleFactor = 3001 }, range, "WatermarkScaleFactor", "3001"),
            ("MinWatermark above capacity", () => new() { Capacity = 1000, MinWatermark = 2000 }, range, "MinWatermark", "2000"),
            ("MinWatermark -1", () => new() { Capacity = 1000, MinWatermark = -1 }, range, "MinWatermark", "-1"),
            ("LowWatermark below min", () => new() { Capacity = 1000, MinWatermark = 100, LowWatermark = 50 }, range, "LowWatermark", "50"),
            ("HighWatermark below low", () => new() { Capacity = 1000, MinWatermark = 100, LowWatermark = 200, HighWatermark = 150 }, range, "HighWatermark", "150"),
            ("CanaryInterval negative", () => new() { Capacity = 10, CanaryInterval = negative }, range, "CanaryInterval", Text(negative)),
            ("CanaryInterval zero", () => new() { Capacity = 10, CanaryInterval = TimeSpan.Zero }, range, "CanaryInterval", Text(TimeSpan.Zero)),
            ("TimeProvider null", () => new() { Capacity = 10, TimeProvider = null! }, missing, "TimeProvider", "null"),
            ("Oom null", () => new() { Capacity = 10, Oom = null! }, missing, "Oom", "null"),
            ("Oom.KillTimeout zero", () => new() { Capacity = 10, Oom = new() { KillTimeout = TimeSpan.Zero } }, range, "Oom.KillTimeout", Text(TimeSpan.Zero)),
            ("Oom.Policy undefined", () => new() { Capacity = 10, Oom = new() { Policy = (OomPolicy)9 } }, range, "Oom.Policy", "9"),
        })
        {
            c.Sync($"MemoryBudget(options: {name})", _ => new MemoryBudget(options()), type, param, value);
        }

        // ForProcess: the paths from ProcessBudgetOptions, its level settings under "Budget.".
        foreach ((string name, Func<ProcessBudgetOptions?> options, Type type, string param, string value) in new (string, Func<ProcessBudgetOptions?>, Type, string, string)[]
        {
            ("HeadroomBytes -1", () => new() { HeadroomBytes = -1 }, range, "HeadroomBytes", "-1"),
            ("HeadroomBytes above the limit", () => new() { HeadroomBytes = long.MaxValue }, range, "HeadroomBytes", Text(long.MaxValue)),
            ("HeadroomFraction 1.5", () => new() { HeadroomFraction = 1.5 }, range, "HeadroomFraction", "1.5"),
            ("HeadroomFraction NaN", () => new() { HeadroomFraction = double.NaN }, range, "HeadroomFraction", "NaN"),
            ("both headrooms", () => new() { HeadroomBytes = 5, HeadroomFraction = 0.5 }, argument, "HeadroomFraction", "(5)"),
            ("Budget null", () => new() { Budget = null! }, missing, "Budget", "null"),
            ("Budget.Capacity set", () => new() { Budget = new() { Capacity = 5 } }, range, "Budget.Capacity", "5"),
            ("Budget.Name white", () => new() { Budget = new() { Name = " " } }, argument, "Budget.Name", "' '"),
            ("Budget.WatermarkScaleFactor 0", () => new() { Budget = new() { WatermarkScaleFactor = 0 } }, range, "Budget.WatermarkScaleFactor", "0"),
            ("Budget.MinWatermark -1", () => new() { Budget = new() { MinWatermark = -1 } }, range, "Budget.MinWatermark", "-1"),
            ("Budget.CanaryInterval negative", () => new() { Budget = new() { CanaryInterval = negative } }, range, "Budget.CanaryInterval", Text(negative)),
            ("Budget.Oom.KillTimeout negative", () => new() { Budget = new() { Oom = new() { KillTimeout = negative } } }, range, "Budget.Oom.KillTimeout", Text(negative)),
        })
        {
            c.Sync($"ForProcess({name})", _ => MemoryBudget.ForProcess(options()).Dispose(), type, param, value);
        }

        // CreateChild.
        c.Sync("CreateChild(white name)", s => s.Root.CreateChild(" ", 10), argument, "name", "whitespace");
        c.Sync("CreateChild(null name)", s => s.Root.CreateChild(null!, 10), missing, "name", "null");
        c.Sync("CreateChild(capacity 0)", s => s.Root.CreateChild("c", 0), range, "capacity", "0");
        c.Sync("CreateChild(capacity above the parent's)", s => s.Root.CreateChild("c", 1001), range, "capacity", "1001");
        c.Sync("CreateChild(null options)", s => s.Root.CreateChild(null!), missing, "options", "null");
        c.Sync("CreateChild(options: Capacity above the parent's)", s => s.Root.CreateChild(TestBudgets.FlatChild("c", 2000)), range, "Capacity", "2000");
        c.Sync("CreateChild(options: Capacity 0)", s => s.Root.CreateChild(TestBudgets.FlatChild("c", 0)), range, "Capacity", "0");
        c.Sync("CreateChild(options: Name empty)", s => s.Root.CreateChild(TestBudgets.FlatChild("", 10)), argument, "Name", "''");
        c.Sync("CreateChild(options: MinWatermark -1)", s => s.Root.CreateChild(new ChildBudgetOptions { Name = "c", Capacity = 10, MinWatermark = -1 }), range, "MinWatermark", "-1");
        c.Sync("CreateChild(options: HighWatermark above capacity)", s => s.Root.CreateChild(new ChildBudgetOptions { Name = "c", Capacity = 10, HighWatermark = 11 }), range, "HighWatermark", "11");
        c.Sync("CreateChild on a disposed budget", s => s.Gone.CreateChild("c", 10), disposed, null, "gone");
        c.Sync("CreateChild(options) on a disposed budget", s => s.Gone.CreateChild(TestBudgets.FlatChild("c", 10)), disposed, null, "gone");

        // The charge, lease and rent entry points, at the root and at a child: sizes, modes and priorities. A rent's
        // size is an int named size; a charge's, a long named bytes (so only a charge meets long's extremes).
        var allocations = new (string Name, Func<MemoryBudget, long, AllocationMode, AllocationPriority, Task> Call, bool IsTry, string Size)[]
        {
            ("TryCharge", (b, n, m, p) => Run(() => b.TryCharge(n, m, p)), true, "bytes"),
            ("Charge", (b, n, m, p) => Run(() => b.Charge(n, m, p)), false, "bytes"),
            ("ChargeAsync", async (b, n, m, p) => await b.ChargeAsync(n, m, p), false, "bytes"),
            ("TryLease", (b, n, m, p) => Run(() => b.TryLease(n, out _, m, p)), true, "bytes"),
            ("Lease", (b, n, m, p) => Run(() => b.Lease(n, m, p)), false, "bytes"),
            ("LeaseAsync", async (b, n, m, p) => await b.LeaseAsync(n, m, p), false, "bytes"),
            ("TryRent", (b, n, m, p) => Run(() => b.TryRent(checked((int)n), out _, m, p)), true, "size"),
            ("Rent", (b, n, m, p) => Run(() => b.Rent(checked((int)n), m, p)), false, "size"),
            ("RentAsync", async (b, n, m, p) => await b.RentAsync(checked((int)n), m, p), false, "size"),
        };
        foreach ((string name, Func<MemoryBudget, long, AllocationMode, AllocationPriority, Task> call, bool isTry, string size) in allocations)
        {
            AllocationMode ok = isTry ? AllocationMode.NoWait : AllocationMode.MayFail;
            c.Async($"{name}(0)", s => call(s.Root, 0, ok, AllocationPriority.Normal), range, size, "0");
            c.Async($"{name}(-1)", s => call(s.Root, -1, ok, AllocationPriority.Normal), range, size, "-1");
            c.Async($"{name}(above capacity)", s => call(s.Root, 1001, ok, AllocationPriority.Normal), range, size, "1001");
            c.Async($"{name}(above a child's capacity)", s => call(s.Child, 501, ok, AllocationPriority.Normal), range, size, "501");
            c.Async($"{name}(undefined mode)", s => call(s.Root, 1, (AllocationMode)9, AllocationPriority.Normal), range, "mode", "9");
            c.Async($"{name}(undefined priority)", s => call(s.Root, 1, ok, (AllocationPriority)7), range, "priority", "7");
            c.Async($"{name} on a disposed budget", s => call(s.Gone, 1, ok, AllocationPriority.Normal), disposed, null, "gone");
            if (size == "bytes")
            {
                c.Async($"{name}(long.MinValue)", s => call(s.Root, long.MinValue, ok, AllocationPriority.Normal), range, size, Text(long.MinValue));
                c.Async($"{name}(long.MaxValue)", s => call(s.Root, long.MaxValue, ok, AllocationPriority.Normal), range, size, Text(long.MaxValue));
            }

            if (isTry)
            {
                c.Async($"{name}(NoFail)", s => call(s.Root, 1, AllocationMode.NoFail, AllocationPriority.Normal), range, "mode", "NoFail");
            }
            else
            {
                // A NoFail charge that no level could ever grant (900 at most at normal priority) would wait forever.
                c.Async($"{name}(NoFail, never grantable)", s => call(s.Root, 950, AllocationMode.NoFail, AllocationPriority.Normal), range, size, "950");
            }
        }

        // Uncharge.
        c.Sync("Uncharge(0)", s => s.Root.Uncharge(0), range, "bytes", "0");
        c.Sync("Uncharge(-3)", s => s.Root.Uncharge(-3), range, "bytes", "-3");
        c.Sync("Uncharge(above Used)", s => s.Root.Uncharge(Scene.RootUsed + 1), range, "bytes", Text(Scene.RootUsed + 1));
        c.Sync("Uncharge(above a child's Used)", s => s.Child.Uncharge(Scene.ChildCharged + 1), range, "bytes", Text(Scene.ChildCharged + 1));
        c.Sync("Uncharge(long.MaxValue)", s => s.Root.Uncharge(long.MaxValue), range, "bytes", Text(long.MaxValue));

        // Reservations' admission.
        c.Sync("TryReserve(0)", s => s.Root.TryReserve(0, out _), range, "bytes", "0");
        c.Sync("TryReserve(-1)", s => s.Root.TryReserve(-1, out _), range, "bytes", "-1");
        c.Sync("TryReserve(above Capacity - Min)", s => s.Root.TryReserve(901, out _), range, "bytes", "901");
        c.Sync("TryReserve(at a child, above the root's Capacity - Min)", s => s.Child.TryReserve(501, out _), range, "bytes", "501");
        c.Sync("TryReserve(undefined mode)", s => s.Root.TryReserve(1, out _, (ReservationMode)7), range, "mode", "7");
        c.Sync("TryReserve on a disposed budget", s => s.Gone.TryReserve(1, out _), disposed, null, "gone");
        c.Async("ReserveAsync(0)", async s => await s.Root.ReserveAsync(0), range, "bytes", "0");
        c.Async("ReserveAsync(above Capacity - Min)", async s => await s.Root.ReserveAsync(901), range, "bytes", "901");
        c.Async("ReserveAsync(undefined mode)", async s => await s.Root.ReserveAsync(1, (ReservationMode)7), range, "mode", "7");
        c.Async("ReserveAsync on a disposed budget", async s => await s.Gone.ReserveAsync(1), disposed, null, "gone");

        // A live reservation's calls.
        c.Sync("reservation.TryCharge(0)", s => s.Reservation.TryCharge(0), range, "bytes", "0");
        c.Sync("reservation.TryCharge(above capacity)", s => s.Reservation.TryCharge(1001), range, "bytes", "1001");
        c.Sync("reservation.TryCharge(NoFail)", s => s.Reservation.TryCharge(1, AllocationMode.NoFail), range, "mode", "NoFail");
        c.Sync("reservation.TryCharge(undefined mode)", s => s.Reservation.TryCharge(1, (AllocationMode)9), range, "mode", "9");
        c.Sync("reservation.Charge(undefined priority)", s => s.Reservation.Charge(1, AllocationMode.NoWait, (AllocationPriority)7), range, "priority", "7");
        c.Sync("reservation.Charge(-1)", s => s.Reservation.Charge(-1), range, "bytes", "-1");
        c.Async("reservation.ChargeAsync(-1)", async s => await s.Reservation.ChargeAsync(-1), range, "bytes", "-1");
        c.Async("reservation.ChargeAsync(undefined mode)", async s => await s.Reservation.ChargeAsync(1, (AllocationMode)9), range, "mode", "9");
        c.Sync("reservation.Shrink(0)", s => s.Reservation.Shrink(0), range, "bytes", "0");
        c.Sync("reservation.Shrink(above Remaining)", s => s.Reservation.Shrink(Scene.Reserved + 1), range, "bytes", Text(Scene.Reserved + 1));
        c.Sync("reservation.TryGrow(0)", s => s.Reservation.TryGrow(0), range, "bytes", "0");
        c.Sync("reservation.TryGrow(above Capacity - Min)", s => s.Reservation.TryGrow(901), range, "bytes", "901");
        c.Async("reservation.GrowAsync(-1)", async s => await s.Reservation.GrowAsync(-1), range, "bytes", "-1");
        c.Async("reservation.GrowAsync(above Capacity - Min)", async s => await s.Reservation.GrowAsync(901), range, "bytes", "901");

        // A disposed reservation's calls name it by its budget.
        c.Sync("disposed reservation.Enter", s => s.GoneReservation.Enter(), disposed, null, "'root'");
        c.Sync("disposed reservation.TryCharge", s => s.GoneReservation.TryCharge(1), disposed, null, "'root'");
        c.Sync("disposed reservation.Charge", s => s.GoneReservation.Charge(1), disposed, null, "'root'");
        c.Async("disposed reservation.ChargeAsync", async s => await s.GoneReservation.ChargeAsync(1), disposed, null, "'root'");
        c.Sync("disposed reservation.Shrink", s => s.GoneReservation.Shrink(1), disposed, null, "'root'");
        c.Sync("disposed reservation.TryGrow", s => s.GoneReservation.TryGrow(1), disposed, null, "'root'");
        c.Async("disposed reservation.GrowAsync", async s => await s.GoneReservation.GrowAsync(1), disposed, null, "'root'");

        // Pools over the budget.
        c.Sync("AsMemoryPool(undefined mode)", s => s.Root.AsMemoryPool((AllocationMode)9), range, "mode", "9");
        c.Sync("AsMemoryPool on a disposed budget", s => s.Gone.AsMemoryPool(), disposed, null, "gone");
        c.Sync("AsMemoryPool(null reservation)", s => s.Root.AsMemoryPool(null!), missing, "reservation", "null");
        c.Sync("AsMemoryPool(another budget's reservation)", s => s.Child.AsMemoryPool(s.Reservation), argument, "reservation", "'root'");
        c.Sync("AsMemoryPool(reservation, undefined mode)", s => s.Root.AsMemoryPool(s.Reservation, (AllocationMode)9), range, "mode", "9");
        c.Sync("AsMemoryPool(disposed reservation)", s => s.Root.AsMemoryPool(s.GoneReservation), disposed, null, "'root'");
        c.Sync("pool.Rent(-2)", s => s.Pool.Rent(-2), range, "minBufferSize", "-2");
        c.Sync("pool.Rent(above capacity)", s => s.Pool.Rent(1001), range, "minBufferSize", "1001");
        c.Sync("disposed pool.Rent", s => s.GonePool.Rent(1), disposed, null, "'root'");
        c.Sync("reserved pool.Rent(-2)", s => s.ReservedPool.Rent(-2), range, "minBufferSize", "-2");
        c.Sync("reserved pool.Rent(above capacity)", s => s.ReservedPool.Rent(1001), range, "minBufferSize", "1001");
        c.Sync("disposed reserved pool.Rent", s => s.GoneReservedPool.Rent(1), disposed, null, "'root'");

        // Mempool.
        c.Sync("Mempool(null budget)", _ => new Mempool<object>(null!, 1, 10, () => new object()), missing, "budget", "null");
        c.Sync("Mempool(null create)", s => new Mempool<object>(s.Root, 1, 10, null!), missing, "create", "null");
        c.Sync("Mempool(minElements -1)", s => new Mempool<object>(s.Root, -1, 10, () => new object()), range, "minElements", "-1");
        c.Sync("Mempool(elementBytes 0)", s => new Mempool<object>(s.Root, 1, 0, () => new object()), range, "elementBytes", "0");
        c.Sync("Mempool(elementBytes above capacity)", s => new Mempool<object>(s.Root, 1, 1001, () => new object()), range, "elementBytes", "1001");
        c.Sync("Mempool(elements that never fit)", s => new Mempool<object>(s.Root, 11, 100, () => new object()), range, "minElements", "11");
        c.Sync("Mempool(int.MaxValue elements)", s => new Mempool<object>(s.Root, int.MaxValue, 1000, () => new object()), range, "minElements", Text(int.MaxValue));
        c.Sync("Mempool on a disposed budget", s => new Mempool<object>(s.Gone, 1, 10, () => new object()), disposed, null, "gone");
        c.Sync("mempool.Alloc(undefined mode)", s => s.Mempool.Alloc((AllocationMode)9), range, "mode", "9");
        c.Async("mempool.AllocAsync(undefined mode)", async s => await s.Mempool.AllocAsync((AllocationMode)9), range, "mode", "9");
        c.Sync("mempool.Alloc(undefined priority)", s => s.Mempool.Alloc(AllocationMode.NoWait, (AllocationPriority)7), range, "priority", "7");
        c.Sync("mempool.TryAlloc(NoFail)", s => s.Mempool.TryAlloc(out _, AllocationMode.NoFail), range, "mode", "NoFail");
        c.Sync("mempool.TryAlloc(undefined mode)", s => s.Mempool.TryAlloc(out _, (AllocationMode)9), range, "mode", "9");
        c.Sync("mempool.Free(null)", s => s.Mempool.Free(null!), missing, "element", "null");
        c.Sync("disposed mempool.Alloc", s => s.GoneMempool.Alloc(), disposed, null, "'root'");
        c.Async("disposed mempool.AllocAsync", async s => await s.GoneMempool.AllocAsync(), disposed, null, "'root'");
        c.Sync("disposed mempool.TryAlloc", s => s.GoneMempool.TryAlloc(out _), disposed, null, "'root'");

        // Site policies.
        c.Sync("SetSitePolicy(white site)", s => s.Root.SetSitePolicy(" ", null), argument, "site", "whitespace");
        c.Sync("SetSitePolicy(null site)", s => s.Root.SetSitePolicy(null!, null), missing, "site", "null");
        c.Sync("SetSitePolicy(MaxRetries -1)", s => s.Root.SetSitePolicy("s", new SitePolicy { MaxRetries = -1 }), range, "MaxRetries", "-1");
        c.Sync("SetSitePolicy(MaxWait zero)", s => s.Root.SetSitePolicy("s", new SitePolicy { MaxWait = TimeSpan.Zero }), range, "MaxWait", Text(TimeSpan.Zero));
        c.Sync("SetSitePolicy(CanaryInterval negative)", s => s.Root.SetSitePolicy("s", new SitePolicy { CanaryInterval = negative }), range, "CanaryInterval", Text(negative));
        c.Sync("SetSitePolicy(RetryForever with MaxRetries)", s => s.Root.SetSitePolicy("s", new SitePolicy { RetryForever = true, MaxRetries = 2 }), argument, "RetryForever", "MaxRetries = 2");
        c.Sync("SetSitePolicy(RetryForever with MaxWait)", s => s.Root.SetSitePolicy("s", new SitePolicy { RetryForever = true, MaxWait = TimeSpan.FromSeconds(3) }), argument, "RetryForever", Text(TimeSpan.FromSeconds(3)));

        // Consumers and the OOM killer.
        c.Sync("RegisterConsumer(white name)", s => s.Root.RegisterConsumer(" ", s.Cancellation), argument, "name", "whitespace");
        c.Sync("RegisterConsumer(null name)", s => s.Root.RegisterConsumer(null!, s.Cancellation), missing, "name", "null");
        c.Sync("RegisterConsumer(null cancellation)", s => s.Root.RegisterConsumer("q", (CancellationTokenSource)null!), missing, "cancellation", "null");
        c.Sync("RegisterConsumer(null kill)", s => s.Root.RegisterConsumer("q", (Action)null!), missing, "kill", "null");
        c.Sync("RegisterConsumer(oomScoreAdj 1001)", s => s.Root.RegisterConsumer("q", s.Cancellation, 1001), range, "oomScoreAdj", "1001");
        c.Sync("RegisterConsumer(oomScoreAdj -1001)", s => s.Root.RegisterConsumer("q", () => { }, -1001), range, "oomScoreAdj", "-1001");
        c.Sync("RegisterConsumer on a disposed budget", s => s.Gone.RegisterConsumer("q", s.Cancellation), disposed, null, "gone");
        c.Sync("RegisterConsumer(kill) on a disposed budget", s => s.Gone.RegisterConsumer("q", () => { }), disposed, null, "gone");
        c.Sync("DryRunOom(-1)", s => s.Root.DryRunOom(-1), range, "bytes", "-1");
        c.Sync("consumer.RegisterReapable(null)", s => s.Consumer.RegisterReapable(null!), missing, "reapable", "null");
        c.Sync("disposed consumer.Enter", s => s.GoneConsumer.Enter(), disposed, null, "query-gone");
        c.Sync("disposed consumer.RegisterReapable", s => s.GoneConsumer.RegisterReapable(new Reclaimer()), disposed, null, "query-gone");

        // Reclaimers.
        c.Sync("RegisterReclaimer(null reclaimer)", s => s.Root.RegisterReclaimer((IMemoryReclaimer)null!, new ReclaimerOptions { Domain = "d" }), missing, "reclaimer", "null");
        c.Sync("RegisterReclaimer(null async reclaimer)", s => s.Root.RegisterReclaimer((IAsyncMemoryReclaimer)null!, new ReclaimerOptions { Domain = "d" }), missing, "reclaimer", "null");
        c.Sync("RegisterReclaimer(null options)", s => s.Root.RegisterReclaimer(new Reclaimer(), null!), missing, "options", "null");
        c.Sync("RegisterReclaimer(async, null options)", s => s.Root.RegisterReclaimer(new AsyncReclaimer(), null!), missing, "options", "null");
        c.Sync("RegisterReclaimer(Domain empty)", s => s.Root.RegisterReclaimer(new Reclaimer(), new ReclaimerOptions()), argument, "Domain", "''");
        c.Sync("RegisterReclaimer(Domain white)", s => s.Root.RegisterReclaimer(new AsyncReclaimer(), new ReclaimerOptions { Domain = "  " }), argument, "Domain", "'  '");
        c.Sync("RegisterReclaimer(Cost 0)", s => s.Root.RegisterReclaimer(new Reclaimer(), new ReclaimerOptions { Domain = "d", Cost = 0 }), range, "Cost", "0");
        c.Sync("RegisterReclaimer(Cost 1001)", s => s.Root.RegisterReclaimer(new AsyncReclaimer(), new ReclaimerOptions { Domain = "d", Cost = 1001 }), range, "Cost", "1001");
        c.Sync("RegisterReclaimer(Timeout negative)", s => s.Root.RegisterReclaimer(new Reclaimer(), new ReclaimerOptions { Domain = "d", Timeout = negative }), range, "Timeout", Text(negative));
        c.Sync("RegisterReclaimer on a disposed budget", s => s.Gone.RegisterReclaimer(new Reclaimer(), new ReclaimerOptions { Domain = "d" }), disposed, null, "gone");
        c.Sync("RegisterReclaimer(async) on a disposed budget", s => s.Gone.RegisterReclaimer(new AsyncReclaimer(), new ReclaimerOptions { Domain = "d" }), disposed, null, "gone");

        // Scopes.
        c.Sync("AllocationScope.NoReclaim(white)", _ => AllocationScope.NoReclaim(" "), argument, "domain", "whitespace");
        c.Sync("AllocationScope.NoReclaim(null)", _ => AllocationScope.NoReclaim(null!), missing, "domain", "null");

        // Pressure triggers.
        TimeSpan second = TimeSpan.FromSeconds(1), tooShort = TimeSpan.FromMilliseconds(100), tooLong = TimeSpan.FromSeconds(11);
        c.Sync("AddTrigger(undefined kind)", s => s.Root.Pressure.AddTrigger((StallKind)5, tooShort, second, _ => { }), range, "kind", "5");
        c.Sync("AddTrigger(window too short)", s => s.Root.Pressure.AddTrigger(StallKind.Some, TimeSpan.FromMilliseconds(10), tooShort, _ => { }), range, "window", Text(tooShort));
        c.Sync("AddTrigger(window too long)", s => s.Root.Pressure.AddTrigger(StallKind.Full, second, tooLong, _ => { }), range, "window", Text(tooLong));
        c.Sync("AddTrigger(threshold zero)", s => s.Root.Pressure.AddTrigger(StallKind.Some, TimeSpan.Zero, second, _ => { }), range, "threshold", Text(TimeSpan.Zero));
        c.Sync("AddTrigger(threshold above the window)", s => s.Root.Pressure.AddTrigger(StallKind.Some, tooLong, second, _ => { }), range, "threshold", Text(tooLong));
        c.Sync("AddTrigger(null callback)", s => s.Root.Pressure.AddTrigger(StallKind.Some, tooShort, second, null!), missing, "onPressure", "null");
        c.Sync("AddTrigger(text malformed)", s => s.Root.Pressure.AddTrigger("some 1 2 3", _ => { }), argument, "trigger", "some 1 2 3");
        c.Sync("AddTrigger(text kind unknown)", s => s.Root.Pressure.AddTrigger("most 150000 1000000", _ => { }), argument, "trigger", "most 150000 1000000");
        c.Sync("AddTrigger(text null)", s => s.Root.Pressure.AddTrigger(null!, _ => { }), missing, "trigger", "null");
        c.Sync("AddTrigger(text null callback)", s => s.Root.Pressure.AddTrigger("some 150000 1000000", null!), missing, "onPressure", "null");
        c.Sync("AddTrigger(text window too long)", s => s.Root.Pressure.AddTrigger("some 150000 20000000", _ => { }), range, "window", Text(TimeSpan.FromSeconds(20)));

        return c.Calls;
    }

    private static Task Run(Action call)
    {
        call();
        return Task.CompletedTask;
    }

    private static Task Run<T>(Func<T> call)
    {
        _ = call();
        return Task.CompletedTask;
    }

    /// <summary>One bad call: what it throws, the parameter it names (none for a use after dispose), and the value its message names.</summary>
    public sealed record BadCall(Func<Scene, Task> Call, Type Exception, string? ParamName, string Value);

    private sealed class CallList
    {
        internal Dictionary<string, BadCall> Calls { get; } = new(StringComparer.Ordinal);

        internal void Sync(string name, Action<Scene> call, Type exception, string? paramName, string value) =>
            Calls.Add(name, new BadCall(s => Run(() => call(s)), exception, paramName, value));

        internal void Sync<T>(string name, Func<Scene, T> call, Type exception, string? paramName, string value) =>
            Calls.Add(name, new BadCall(s => Run(() => call(s)), exception, paramName, value));

        internal void Async(string name, Func<Scene, Task> call, Type exception, string? paramName, string value) =>
            Calls.Add(name, new BadCall(call, exception, paramName, value));
    }

    /// <summary>What a refused call must leave as it was: every counter of the tree and of the scene's holders.</summary>
    public sealed record SceneState(MemoryBudgetSnapshot Root, MemoryBudgetSnapshot Child, long Remaining, long Drawn, long ConsumerCharged, int Pooled, int Queued, int Children);

    /// <summary>
    /// A tree in use: the root (capacity 1000, min 100, low 200, high 300) with charges, a reservation, a consumer, a
    /// mempool and pools, a child with a charge, and one of each already disposed.
    /// </summary>
    public sealed class Scene : IDisposable
    {
        internal const long RootCharged = 50;
        internal const long ChildCharged = 20;
        internal const long Reserved = 100;
        internal const long Element = 10;
        internal const long RootUsed = RootCharged + ChildCharged + Element;

        internal Scene()
        {
            Root = TestBudgets.Small("root");
            Child = Root.CreateChild(TestBudgets.FlatChild("child", 500));
            Gone = Root.CreateChild(TestBudgets.FlatChild("gone", 100));
            Gone.Dispose();
            Root.Charge(RootCharged, AllocationMode.NoWait);
            Child.Charge(ChildCharged, AllocationMode.NoWait);
            Assert.True(Root.TryReserve(Reserved, out MemoryReservation? reservation));
            Reservation = reservation;
            Assert.True(Root.TryReserve(10, out MemoryReservation? gone));
            GoneReservation = gone;
            GoneReservation.Dispose();
            Consumer = Root.RegisterConsumer("query", Cancellation);
            GoneConsumer = Root.RegisterConsumer("query-gone", Cancellation);
            GoneConsumer.Dispose();
            Mempool = new Mempool<object>(Root, 1, Element, () => new object());
            GoneMempool = new Mempool<object>(Root, 0, Element, () => new object());
            GoneMempool.Dispose();
            Pool = Root.AsMemoryPool();
            GonePool = Root.AsMemoryPool();
            GonePool.Dispose();
            ReservedPool = Root.AsMemoryPool(Reservation);
            GoneReservedPool = Root.AsMemoryPool(Reservation);
            GoneReservedPool.Dispose();
        }

        internal MemoryBudget Root { get; }

        internal MemoryBudget Child { get; }

        internal MemoryBudget Gone { get; }

        internal MemoryReservation Reservation { get; }

        internal MemoryReservation GoneReservation { get; }

        internal CancellationTokenSource Cancellation { get; } = new();

        internal MemoryConsumer Consumer { get; }

        internal MemoryConsumer GoneConsumer { get; }

        internal Mempool<object> Mempool { get; }

        internal Mempool<object> GoneMempool { get; }

        internal MemoryPool<byte> Pool { get; }

        internal MemoryPool<byte> GonePool { get; }

        internal MemoryPool<byte> ReservedPool { get; }

        internal MemoryPool<byte> GoneReservedPool { get; }

        /// <summary>Read at quiescence: the stocks drained first, as a stock is a cache of the counters, not a change.</summary>
        internal SceneState Read()
        {
            Root.DrainStocks();
            Child.DrainStocks();
            return new SceneState(Root.GetSnapshot(), Child.GetSnapshot(), Reservation.Remaining, Reservation.Drawn, Consumer.Charged, Mempool.Pooled, Root.Queue.Count, Root.Inspect().Children.Count);
        }

        public void Dispose()
        {
            Pool.Dispose();
            ReservedPool.Dispose();
            Mempool.Dispose();
            Reservation.Dispose();
            Consumer.Dispose();
            Child.Uncharge(ChildCharged);
            Root.Uncharge(RootCharged);
            TestBudgets.AssertEmpty(Root, Child);
            Root.Dispose();
            Cancellation.Dispose();
        }
    }

    private sealed class Reclaimer : IMemoryReclaimer
    {
        public long GetReclaimableBytes() => 0;

        public ReclaimResult Reclaim(long target, CancellationToken cancellationToken) => new(0);
    }

    private sealed class AsyncReclaimer : IAsyncMemoryReclaimer
    {
        public long GetReclaimableBytes() => 0;

        public ValueTask<long> ReclaimAsync(long target, CancellationToken cancellationToken) => ValueTask.FromResult(0L);
    }
}
