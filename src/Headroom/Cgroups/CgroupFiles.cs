using System.Globalization;

namespace Headroom.Cgroups;

/// <summary>
/// Reads the kernel's small text files below a root (the real "/" or a test's fixture tree) and never throws: a file
/// that is missing or unreadable yields <see langword="null"/> and a reason, in the words a user can act on.
/// </summary>
internal sealed class CgroupFiles
{
    /// <summary>Values above this mean "no limit": the kernel writes 2^63 − 1 rounded down to a page (the runtime's rule).</summary>
    internal const ulong UnlimitedAbove = 0x7FFF_FFFF_0000_0000;

    private readonly string _root;

    public CgroupFiles(string root)
    {
        _root = root.Length > 1 ? root.TrimEnd('/') : string.Empty;
    }

    /// <summary>The path as the file system below the root sees it: what the kernel names it, for descriptions.</summary>
    public string OnDisk(string path) => _root + path;

    /// <summary>Reads a whole file, or says why it could not.</summary>
    public string? ReadText(string path, List<string> missing)
    {
        try
        {
            return File.ReadAllText(OnDisk(path));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            missing.Add($"no {path}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            missing.Add($"cannot read {path}: {e.Message}");
        }

        return null;
    }

    /// <summary>
    /// Reads a one-number file such as <c>memory.max</c>. "max" and the kernel's huge values are "no limit": the
    /// result is <see langword="true"/> with <paramref name="value"/> null.
    /// </summary>
    public bool TryReadBytes(string path, List<string> missing, out ulong? value)
    {
        value = null;
        string? text = ReadText(path, missing);
        if (text is null)
        {
            return false;
        }

        string trimmed = text.Trim();
        if (trimmed == "max")
        {
            return true;
        }

        if (!ulong.TryParse(trimmed, NumberStyles.None, CultureInfo.InvariantCulture, out ulong number))
        {
            missing.Add($"{path} holds '{Shorten(trimmed)}', not a number of bytes");
            return false;
        }

        value = number > UnlimitedAbove ? null : number;
        return true;
    }

    /// <summary>Reads one "name value" line of a key-value file such as <c>memory.stat</c>.</summary>
    public ulong? ReadField(string path, string field, List<string> missing)
    {
        string? text = ReadText(path, missing);
        if (text is null)
        {
            return null;
        }

        foreach (string line in text.Split('\n'))
        {
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            if (space > 0 && line.AsSpan(0, space).SequenceEqual(field)
                && ulong.TryParse(line.AsSpan(space + 1).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out ulong value))
            {
                return value;
            }
        }

        missing.Add($"no field {field} in {path}");
        return null;
    }

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
