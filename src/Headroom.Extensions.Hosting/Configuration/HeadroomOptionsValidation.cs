using Headroom.Extensions.Hosting.Budgets;
using Headroom.Extensions.Hosting.Reclaim;
using Microsoft.Extensions.Options;

namespace Headroom.Extensions.Hosting.Configuration;

/// <summary>
/// Validates <see cref="HeadroomOptions"/> by building the tree they describe on trial and disposing it: the core's own
/// checks decide (nothing is checked twice by different rules), and every refusal names its configuration key. Runs at
/// start (<c>ValidateOnStart</c>) and again on each reload; a reload that fails changes nothing in the running tree.
/// </summary>
internal sealed class HeadroomOptionsValidation(HeadroomRegistration registration, IEnumerable<ReclaimerRegistration> reclaimers, IServiceProvider services) : IValidateOptions<HeadroomOptions>
{
    public ValidateOptionsResult Validate(string? name, HeadroomOptions options)
    {
        if (name is not null && name != Options.DefaultName)
        {
            return ValidateOptionsResult.Skip;
        }

        var failures = new List<string>(DroppedEntries.Failures(registration.Configuration(services), options));
        HeadroomBudgets? trial = BudgetTreeBuild.Build(options, TreeServices.Trial, registration.Keys, ReclaimerBudgets(options, reclaimers), failures);
        trial?.Root.Dispose();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>The budgets the added reclaimers name (the root when they name none).</summary>
    internal static IEnumerable<string> ReclaimerBudgets(HeadroomOptions options, IEnumerable<ReclaimerRegistration> reclaimers) =>
        reclaimers.Select(r => r.Budget ?? options.Name);
}
