namespace Headroom.Cgroups;

/// <summary>
/// Parses <c>/proc/self/cgroup</c> (cgroups(7)): "hierarchy-id:controllers:path" per line; cgroup v2's line is
/// "0::path". Yields the process's group path relative to its hierarchy's root.
/// </summary>
internal static class CgroupMembership
{
    /// <summary>The path of the v1 hierarchy that has <paramref name="controller"/>, or of the v2 hierarchy when it is null.</summary>
    public static string? Find(string text, string? controller)
    {
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            int first = line.IndexOf(':', StringComparison.Ordinal);
            int second = first < 0 ? -1 : line.IndexOf(':', first + 1);
            if (second < 0)
            {
                continue;
            }

            string controllers = line[(first + 1)..second];
            string path = line[(second + 1)..].TrimEnd('\r');
            bool match = controller is null
                ? line.AsSpan(0, first).SequenceEqual("0") && controllers.Length == 0
                : controllers.Split(',').Contains(controller, StringComparer.Ordinal);
            if (match && path.StartsWith('/'))
            {
                return path;
            }
        }

        return null;
    }

    /// <summary>
    /// Where the group's directory is: the mount point, plus the group path less the mount's own root when the group
    /// lies below it (a container sees its own group as the root of a bind mount).
    /// </summary>
    public static string Locate(Mount mount, string groupPath)
    {
        string relative = groupPath;
        if (mount.Root != "/" && (groupPath == mount.Root || groupPath.StartsWith(mount.Root + "/", StringComparison.Ordinal)))
        {
            relative = groupPath[mount.Root.Length..];
        }

        string point = mount.MountPoint.TrimEnd('/');
        return relative is "" or "/" ? (point.Length == 0 ? "/" : point) : point + relative;
    }
}
