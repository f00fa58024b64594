using Microsoft.Extensions.Configuration;

namespace Headroom.Extensions.Hosting.Configuration;

/// <summary>
/// Entries of <see cref="HeadroomOptions.Budgets"/> and <see cref="HeadroomOptions.Sites"/> that the configuration has
/// but the bound options lack. The binder drops a dictionary entry whose value does not convert (a capacity of "lots")
/// without a word, which would start the service without that budget; binding the entry alone recovers the binder's
/// own message, which names the key.
/// </summary>
internal static class DroppedEntries
{
    internal static IEnumerable<string> Failures(IConfiguration? section, HeadroomOptions options)
    {
        if (section is null)
        {
            yield break;
        }

        foreach (IConfigurationSection entry in section.GetSection(nameof(HeadroomOptions.Budgets)).GetChildren())
        {
            if (!options.Budgets.ContainsKey(entry.Key))
            {
                yield return BindFailure<HeadroomBudgetOptions>(entry);
            }
        }

        foreach (IConfigurationSection entry in section.GetSection(nameof(HeadroomOptions.Sites)).GetChildren())
        {
            if (!options.Sites.ContainsKey(entry.Key))
            {
                yield return BindFailure<SitePolicy>(entry);
            }
        }
    }

    private static string BindFailure<T>(IConfigurationSection entry)
    {
        try
        {
            entry.Get<T>();
        }
        catch (InvalidOperationException e)
        {
            return e.Message; // "Failed to convert configuration value 'lots' at 'Headroom:Budgets:tenant:Capacity' to type 'System.Int64'."
        }

        return $"{entry.Path}: the entry could not be bound to a {typeof(T).Name}.";
    }
}
