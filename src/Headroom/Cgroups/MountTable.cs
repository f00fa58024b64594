using System.Text;

namespace Headroom.Cgroups;

/// <summary>One line of <c>/proc/self/mountinfo</c>, the fields the cgroup search needs.</summary>
/// <param name="Root">The directory of the mounted file system that appears at the mount point (field 4).</param>
/// <param name="MountPoint">Where it is mounted (field 5).</param>
/// <param name="FileSystemType">The type after the " - " separator, such as <c>cgroup</c> or <c>cgroup2</c>.</param>
/// <param name="SuperOptions">The per-superblock options; for cgroup v1 they name the controllers (<c>rw,memory</c>).</param>
internal sealed record Mount(string Root, string MountPoint, string FileSystemType, IReadOnlyList<string> SuperOptions);

/// <summary>Parses <c>/proc/self/mountinfo</c> (proc(5)): optional fields end at " - ", paths escape spaces as octal.</summary>
internal static class MountTable
{
    public static List<Mount> Parse(string text)
    {
        var mounts = new List<Mount>();
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            int separator = line.IndexOf(" - ", StringComparison.Ordinal);
            if (separator < 0)
            {
                continue;
            }

            string[] head = line[..separator].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            string[] tail = line[(separator + 3)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (head.Length < 5 || tail.Length < 1)
            {
                continue; // not a mountinfo line; the runtime stops at such a line, skipping it loses nothing else
            }

            string[] options = tail.Length >= 3 ? tail[2].Split(',') : [];
            mounts.Add(new Mount(Unescape(head[3]), Unescape(head[4]), tail[0], options));
        }

        return mounts;
    }

    /// <summary>The kernel writes space, tab, newline and backslash in paths as \ooo.</summary>
    private static string Unescape(string path)
    {
        if (!path.Contains('\\', StringComparison.Ordinal))
        {
            return path;
        }

        var text = new StringBuilder(path.Length);
        for (int i = 0; i < path.Length; i++)
        {
            if (path[i] == '\\' && i + 3 < path.Length && TryOctal(path.AsSpan(i + 1, 3), out char c))
            {
                text.Append(c);
                i += 3;
            }
            else
            {
                text.Append(path[i]);
            }
        }

        return text.ToString();
    }

    private static bool TryOctal(ReadOnlySpan<char> digits, out char value)
    {
        int n = 0;
        foreach (char d in digits)
        {
            if (d is < '0' or > '7')
            {
                value = default;
                return false;
            }

            n = (n * 8) + (d - '0');
        }

        value = (char)n;
        return true;
    }
}
