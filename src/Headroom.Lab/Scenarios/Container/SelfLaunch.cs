using System.Reflection;

namespace Headroom.Lab.Scenarios.Container;

/// <summary>
/// How to start a .NET assembly's program again as a child process: its app host when one sits beside it, else the
/// dotnet host running it with <c>exec</c>. The lab uses it to start itself; a test host's process is dotnet or
/// testhost, never the program, so <see cref="Environment.ProcessPath"/> alone is not enough.
/// </summary>
internal static class SelfLaunch
{
    public static (string FileName, IReadOnlyList<string> Arguments) For(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        string dll = assembly.Location;
        string appHost = Path.ChangeExtension(dll, null);
        if (OperatingSystem.IsLinux() && File.Exists(appHost))
        {
            return (appHost, []);
        }

        return (DotnetHost(), ["exec", dll]);
    }

    private static string DotnetHost()
    {
        string? process = Environment.ProcessPath;
        if (process is not null && Path.GetFileNameWithoutExtension(process) == "dotnet")
        {
            return process;
        }

        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
    }
}
