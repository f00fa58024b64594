namespace Headroom.Extensions.Hosting.Configuration;

/// <summary>
/// The configuration keys of <see cref="HeadroomOptions"/> under one section (<c>Headroom</c> by default), for
/// messages: the core's options name the property they refuse (an exception's parameter name), and this turns that
/// property into the key an operator edits.
/// </summary>
internal sealed class ConfigurationKeys(string section)
{
    /// <summary>Gets the section's path; empty for options bound from a configuration's root.</summary>
    internal string Section { get; } = section;

    /// <summary>
    /// A key of the root's settings: <c>Headroom:Capacity</c>, <c>Headroom:Oom:KillTimeout</c>. The core names a setting
    /// by its path from the options it was given ("Oom.KillTimeout"; "Budget.Name" inside the process budget's options,
    /// whose level settings are the root's own keys here).
    /// </summary>
    internal string Root(string? property) => Join(Section, property switch
    {
        null or "" or "options" => null,
        _ when property.StartsWith(ProcessBudget, StringComparison.Ordinal) => Key(property[ProcessBudget.Length..]),
        _ => Key(property),
    });

    /// <summary>A key of one child budget: <c>Headroom:Budgets:tenant:Capacity</c>.</summary>
    internal string Budget(string name, string? property) =>
        Join(Join(Join(Section, nameof(HeadroomOptions.Budgets)), name), NullIfNoProperty(property));

    /// <summary>A key of one site's policy: <c>Headroom:Sites:journal:MaxWait</c>.</summary>
    internal string Site(string site, string? property) =>
        Join(Join(Join(Section, nameof(HeadroomOptions.Sites)), site), property is "site" or "policy" ? null : NullIfNoProperty(property));

    /// <summary>A key of the root's own settings that is not a budget level's: <c>Headroom:MemoryCacheBudget</c>.</summary>
    internal string Setting(string property) => Join(Section, property);

    /// <summary>"key: message", the message without the parameter name the key replaces.</summary>
    internal static string Failure(string key, ArgumentException e)
    {
        string message = e.Message;
        int parameter = message.IndexOf(" (Parameter '", StringComparison.Ordinal);
        return $"{key}: {(parameter < 0 ? message : message[..parameter])}";
    }

    private const string ProcessBudget = nameof(ProcessBudgetOptions.Budget) + ".";

    /// <summary>A property path ("Oom.KillTimeout") as a configuration key ("Oom:KillTimeout").</summary>
    private static string Key(string path) => path.Replace('.', ':');

    private static string? NullIfNoProperty(string? property) => string.IsNullOrEmpty(property) ? null : property;

    private static string Join(string prefix, string? part) =>
        string.IsNullOrEmpty(part) ? prefix : prefix.Length == 0 ? part : $"{prefix}:{part}";
}
