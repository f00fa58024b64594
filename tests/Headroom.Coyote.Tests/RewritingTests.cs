using Microsoft.Coyote.Rewriting;

namespace Headroom.Coyote.Tests;

public sealed class RewritingTests
{
    [Fact]
    public void The_library_and_the_tests_are_rewritten_so_that_Coyote_controls_their_interleavings()
    {
        Assert.True(RewritingEngine.IsAssemblyRewritten(typeof(MemoryBudget).Assembly), "Headroom.dll was not rewritten by coyote rewrite");
        Assert.True(RewritingEngine.IsAssemblyRewritten(typeof(RewritingTests).Assembly), "Headroom.Coyote.Tests.dll was not rewritten by coyote rewrite");
    }
}
