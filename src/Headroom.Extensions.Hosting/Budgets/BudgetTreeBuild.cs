using Headroom.Extensions.Hosting.Configuration;

namespace Headroom.Extensions.Hosting.Budgets;

/// <summary>
/// Builds a budget tree from <see cref="HeadroomOptions"/>: the root (the process budget, or a fixed capacity), its
/// children in parent order, and the site policies. The core validates every setting; a refusal becomes a failure
/// that names the configuration key, and the build goes on with what does not depend on it, so that one start reports
/// every bad value at once. Validation runs the same build on trial and disposes what it made.
/// </summary>
internal static class BudgetTreeBuild
{
    /// <summary>Builds the tree; null with <paramref name="failures"/> filled when any setting was refused (then nothing is left built).</summary>
    internal static HeadroomBudgets? Build(HeadroomOptions options, TreeServices services, ConfigurationKeys keys, IEnumerable<string> reclaimerBudgets, List<string> failures)
    {
        int before = failures.Count;
        MemoryBudget? root = BuildRoot(options, services, keys, failures);
        if (root is null)
        {
            return null;
        }

        var byName = new Dictionary<string, MemoryBudget>(StringComparer.Ordinal) { [root.Name] = root };
        var failed = new HashSet<string>(StringComparer.Ordinal);
        foreach (string name in options.Budgets.Keys)
        {
            BuildChild(name, options, keys, byName, new HashSet<string>(StringComparer.Ordinal), failed, failures);
        }

        foreach ((string site, SitePolicy policy) in options.Sites)
        {
            try
            {
                root.SetSitePolicy(site, policy);
            }
            catch (ArgumentException e)
            {
                failures.Add(ConfigurationKeys.Failure(keys.Site(site, e.ParamName), e));
            }
        }

        if (options.MemoryCacheBudget is { } cacheBudget && !byName.ContainsKey(cacheBudget))
        {
            failures.Add($"{keys.Setting(nameof(HeadroomOptions.MemoryCacheBudget))}: no budget is named '{cacheBudget}'; {Known(byName)}.");
        }

        foreach (string budget in reclaimerBudgets)
        {
            if (!byName.ContainsKey(budget))
            {
                failures.Add($"AddReclaimer: no budget is named '{budget}'; {Known(byName)}.");
            }
        }

        if (failures.Count > before)
        {
            root.Dispose();
            return null;
        }

        return new HeadroomBudgets(root, byName);
    }

    private static MemoryBudget? BuildRoot(HeadroomOptions options, TreeServices services, ConfigurationKeys keys, List<string> failures)
    {
        var level = new MemoryBudgetOptions
        {
            Name = options.Name,
            MinWatermark = options.MinWatermark,
            LowWatermark = options.LowWatermark,
            HighWatermark = options.HighWatermark,
            WatermarkScaleFactor = options.WatermarkScaleFactor,
            CanaryInterval = options.CanaryInterval,
            Oom = options.Oom,
            TimeProvider = services.TimeProvider,
            Logger = services.Logger,
            MeterFactory = services.MeterFactory,
        };

        try
        {
            if (options.Capacity is not { } capacity)
            {
                return MemoryBudget.ForProcess(new ProcessBudgetOptions { HeadroomBytes = options.HeadroomBytes, HeadroomFraction = options.HeadroomFraction, Budget = level });
            }

            if (options.HeadroomBytes is not null || options.HeadroomFraction is not null)
            {
                string headroom = options.HeadroomBytes is not null ? nameof(HeadroomOptions.HeadroomBytes) : nameof(HeadroomOptions.HeadroomFraction);
                failures.Add($"{keys.Root(headroom)}: a headroom sizes the process budget, but {keys.Root(nameof(HeadroomOptions.Capacity))} fixes the root's capacity ({capacity} bytes); set one or the other.");
                return null;
            }

            level.Capacity = capacity;
            return new MemoryBudget(level);
        }
        catch (ArgumentException e)
        {
            failures.Add(ConfigurationKeys.Failure(keys.Root(e.ParamName), e));
            return null;
        }
    }

    /// <summary>Builds <paramref name="name"/> after its ancestors; false when it or an ancestor could not be built (reported once, where it failed).</summary>
    private static bool BuildChild(string name, HeadroomOptions options, ConfigurationKeys keys, Dictionary<string, MemoryBudget> byName, HashSet<string> path, HashSet<string> failed, List<string> failures)
    {
        if (failed.Contains(name))
        {
            return false;
        }

        if (!string.Equals(name, options.Name, StringComparison.Ordinal) && byName.ContainsKey(name))
        {
            return true;
        }

        bool built = TryBuildChild(name, options, keys, byName, path, failed, failures);
        if (!built)
        {
            failed.Add(name);
        }

        return built;
    }

    private static bool TryBuildChild(string name, HeadroomOptions options, ConfigurationKeys keys, Dictionary<string, MemoryBudget> byName, HashSet<string> path, HashSet<string> failed, List<string> failures)
    {
        HeadroomBudgetOptions settings = options.Budgets[name];
        MemoryBudget root = byName[options.Name];
        if (string.Equals(name, root.Name, StringComparison.Ordinal) || !path.Add(name))
        {
            failures.Add(string.Equals(name, root.Name, StringComparison.Ordinal)
                ? $"{keys.Budget(name, null)}: a child cannot take the root's name '{root.Name}'."
                : $"{keys.Budget(name, nameof(HeadroomBudgetOptions.Parent))}: the parents form a cycle ({string.Join(" → ", path)} → {name}).");
            return false;
        }

        string parentName = settings.Parent ?? root.Name;
        if (!byName.ContainsKey(parentName))
        {
            if (!options.Budgets.ContainsKey(parentName))
            {
                failures.Add($"{keys.Budget(name, nameof(HeadroomBudgetOptions.Parent))}: no budget is named '{parentName}'; {Known(byName, options.Budgets.Keys)}.");
                return false;
            }

            if (!BuildChild(parentName, options, keys, byName, path, failed, failures))
            {
                return false;
            }
        }

        try
        {
            byName[name] = byName[parentName].CreateChild(new ChildBudgetOptions
            {
                Name = name,
                Capacity = settings.Capacity,
                MinWatermark = settings.MinWatermark,
                LowWatermark = settings.LowWatermark,
                HighWatermark = settings.HighWatermark,
                WatermarkScaleFactor = settings.WatermarkScaleFactor,
            });
            return true;
        }
        catch (ArgumentException e)
        {
            failures.Add(ConfigurationKeys.Failure(keys.Budget(name, e.ParamName), e));
            return false;
        }
    }

    private static string Known(Dictionary<string, MemoryBudget> built, IEnumerable<string>? configured = null) =>
        $"the budgets are {string.Join(", ", built.Keys.Concat(configured ?? []).Distinct(StringComparer.Ordinal).Select(static n => $"'{n}'"))}";
}
