using System.Reflection;

namespace Headroom.Extensions.Hosting.Tests.Packaging;

/// <summary>Issue 14: the core stays free of hosting; everything that needs more than logging lives in this package.</summary>
public sealed class CoreDependencyTests
{
    [Fact]
    public void The_core_references_the_framework_and_logging_abstractions_only()
    {
        string[] beyondFramework = [.. typeof(MemoryBudget).Assembly.GetReferencedAssemblies()
            .Select(static a => a.Name!)
            .Where(static name => !name.StartsWith("System.", StringComparison.Ordinal) && name is not "System" and not "netstandard" and not "mscorlib")];

        Assert.Equal(["Microsoft.Extensions.Logging.Abstractions"], beyondFramework);
    }

    [Fact]
    public void The_MemoryCache_reclaimer_ships_in_this_package()
    {
        Assert.Equal("Headroom.Extensions.Hosting", typeof(MemoryCacheReclaimer).Assembly.GetName().Name);
        Assert.DoesNotContain(typeof(MemoryBudget).Assembly.GetReferencedAssemblies(), static a => a.Name!.StartsWith("Microsoft.Extensions.Caching", StringComparison.Ordinal));
    }
}
