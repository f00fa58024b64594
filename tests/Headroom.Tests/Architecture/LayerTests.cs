using System.Reflection;
using System.Text.RegularExpressions;
using NetArchTest.Rules;

namespace Headroom.Tests.Architecture;

/// <summary>
/// Which folder of src/Headroom may use which (the guide: request → accounting → reclaim → OOM → wait; lower layers
/// call back up only to release memory or wake a waiter). A folder's types are those declared in its files; the
/// <see cref="MemoryBudget"/> facade is a partial class spread over every folder, so it belongs to none and any
/// folder may use it.
/// </summary>
public sealed partial class LayerTests
{
    /// <summary>
    /// Folder → the folders its types may depend on, besides itself and the facade, as the code stands; read top to
    /// bottom as the flow. Edges marked "back" run against request → accounting → reclaim → OOM → wait.
    /// </summary>
    internal static readonly Dictionary<string, string[]> MayUse = new()
    {
        // request: entry points that hand memory out (Budgets holds the charge entry points and the tree, BudgetTree)
        ["Pools"] = ["Budgets", "Reservations", "Arena", "Oom"], // Oom: attribution of rented buffers to their consumer (back)
        ["Cgroups"] = ["Budgets"],
        ["Arena"] = ["Budgets", "Accounting", "Reclaim", "Oom"], // Oom: a buffer's home names its consumer (back)
        ["Reservations"] = ["Budgets", "Accounting", "Oom"], // Oom: a reservation credits its consumer (back)
        ["Budgets"] = ["Accounting", "Waiting", "Reservations", "Stocks", "Arena", "Reclaim", "Oom", "Diagnostics", "Pressure"], // Reservations, Stocks: the tree owns their registries (back); Stocks, Arena: a thread's slot (PerThread) holds its stock and arena caches
        ["Stocks"] = ["Budgets", "Accounting"],
        // accounting: the per-level counters every grant and release goes through; it reads a level's wait queue to
        // keep its order and wakes it, and calls nothing else
        ["Accounting"] = ["Budgets", "Waiting", "Diagnostics"],
        // reclaim, then the OOM killer: they reach the counters to release memory and the queue to wake waiters
        ["Reclaim"] = ["Budgets", "Accounting", "Waiting"],
        ["Oom"] = ["Budgets", "Accounting", "Waiting", "Reclaim", "Reservations"], // Reservations: a victim's reservations are reapable (back)
        // the wait queue, last: a waiter names what it waits for (the reservation it admits, its consumer)
        ["Waiting"] = ["Budgets", "Accounting", "Reservations", "Oom"], // Reservations, Oom: those names (back)
        // the stall canary reads the waiters
        ["Diagnostics"] = ["Budgets", "Waiting"],
        // pressure stall information counts the waiters and consumers, and reads the kernel's files for the process budget
        ["Pressure"] = ["Budgets", "Waiting", "Oom", "Cgroups", "Diagnostics"],
        // the snapshot reads every mechanism's state
        ["Inspection"] = ["Budgets", "Waiting", "Reservations", "Reclaim", "Oom", "Pressure"],
    };

    [Fact]
    public void Every_folder_of_the_library_uses_only_the_folders_its_row_allows()
    {
        Dictionary<string, string[]> folders = TypesByFolder();
        Assert.Equal(MayUse.Keys.Order(StringComparer.Ordinal), folders.Keys.Order(StringComparer.Ordinal)); // a new folder needs a row

        var broken = new List<string>();
        foreach ((string folder, string[] types) in folders)
        {
            foreach ((string other, string[] theirs) in folders)
            {
                if (other == folder || MayUse[folder].Contains(other))
                {
                    continue;
                }

                foreach (string edge in Violations(types, theirs))
                {
                    broken.Add($"{folder} → {other}: {edge}");
                }
            }
        }

        Assert.True(broken.Count == 0, "Dependencies the table does not allow:\n" + string.Join("\n", broken));
    }

    [Fact]
    public void The_check_sees_a_dependency_the_table_forbids()
    {
        Dictionary<string, string[]> folders = TypesByFolder();
        Assert.DoesNotContain("Oom", MayUse["Cgroups"]);
        Assert.Empty(Violations(folders["Cgroups"], folders["Oom"])); // as the code stands

        // Budgets may use Oom and does: the same check, pointed at an edge that exists, reports it.
        Assert.Contains(Violations(folders["Budgets"], folders["Oom"]), static e => e.Contains("uses Headroom.OomKiller", StringComparison.Ordinal));
    }

    /// <summary>The types of <paramref name="from"/> that depend on one of <paramref name="to"/>, each with what it uses.</summary>
    internal static IEnumerable<string> Violations(string[] from, string[] to)
    {
        Assembly library = typeof(MemoryBudget).Assembly;
        foreach (string type in to)
        {
            TestResult result = Types.InAssembly(library)
                .That().HaveNameMatching(NamePattern(from))
                .ShouldNot().HaveDependencyOn(type)
                .GetResult();
            if (!result.IsSuccessful)
            {
                foreach (string name in result.FailingTypeNames ?? [])
                {
                    yield return $"{name} uses {type}";
                }
            }
        }
    }

    /// <summary>Exactly these names, and types nested in them or generated for them (closures, state machines).</summary>
    private static string NamePattern(string[] shortNames) => $"^({string.Join("|", shortNames.Select(static n => Regex.Escape(n.Split('.')[^1])))})($|[`+/<])";

    /// <summary>Folder → full names of the types declared in its files (MemoryBudget excepted), read from the sources.</summary>
    internal static Dictionary<string, string[]> TypesByFolder()
    {
        string root = SourceRoot();
        var result = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (string dir in Directory.GetDirectories(root))
        {
            string folder = Path.GetFileName(dir);
            if (folder is "bin" or "obj")
            {
                continue;
            }

            var names = new List<string>();
            foreach (string file in Directory.GetFiles(dir, "*.cs"))
            {
                string text = File.ReadAllText(file);
                string ns = Namespace().Match(text).Groups[1].Value;
                foreach (Match m in Declaration().Matches(text))
                {
                    if (m.Groups[1].Value != nameof(MemoryBudget))
                    {
                        names.Add($"{ns}.{m.Groups[1].Value}");
                    }
                }
            }

            if (names.Count > 0)
            {
                result[folder] = [.. names.Distinct()];
            }
        }

        // A partial type declared in several folders (as MemoryBudget, or Diagnostics.Log's messages) belongs to none.
        HashSet<string> shared = [.. result.Values.SelectMany(static n => n).GroupBy(static n => n).Where(static g => g.Count() > 1).Select(static g => g.Key)];
        foreach (string folder in result.Keys.ToList())
        {
            result[folder] = [.. result[folder].Where(n => !shared.Contains(n))];
        }

        return result;
    }

    private static string SourceRoot()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "Headroom.slnx")))
            {
                return Path.Combine(d.FullName, "src", "Headroom");
            }
        }

        throw new DirectoryNotFoundException("Headroom.slnx not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"^namespace\s+([\w.]+)\s*;", RegexOptions.Multiline)]
    private static partial Regex Namespace();

    // Top-level declarations only: at the start of a line, no indentation.
    [GeneratedRegex(@"^(?:(?:public|internal|sealed|static|abstract|readonly|partial|ref|file)\s+)*(?:class|struct|interface|enum|record(?:\s+struct|\s+class)?)\s+(\w+)", RegexOptions.Multiline)]
    private static partial Regex Declaration();
}
