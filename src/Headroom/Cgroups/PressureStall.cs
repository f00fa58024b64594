using System.Globalization;

namespace Headroom.Cgroups;

/// <summary>One line of a PSI file: the share of wall time stalled over 10, 60 and 300 s (percent), and the total in µs.</summary>
internal readonly record struct StallLine(double Avg10, double Avg60, double Avg300, ulong TotalMicroseconds);

/// <summary>
/// A reading of a pressure-stall file (<c>/proc/pressure/memory</c> or a cgroup v2 group's <c>memory.pressure</c>):
/// "some" (at least one task stalled on memory) and "full" (all non-idle tasks stalled), as the kernel's PSI defines them.
/// </summary>
internal sealed record PressureStall(string Path, StallLine Some, StallLine? Full)
{
    /// <summary>Parses the file's text; null when its "some" line is missing or malformed.</summary>
    public static PressureStall? Parse(string path, string text)
    {
        StallLine? some = null, full = null;
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length < 5 || ParseShare(words) is not { } share)
            {
                continue;
            }

            if (words[0] == "some")
            {
                some = share;
            }
            else if (words[0] == "full")
            {
                full = share;
            }
        }

        return some is { } s ? new PressureStall(path, s, full) : null;
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Path}: some avg10={Some.Avg10:0.00} avg60={Some.Avg60:0.00} avg300={Some.Avg300:0.00} total={Some.TotalMicroseconds}") +
        (Full is { } f ? string.Create(CultureInfo.InvariantCulture, $"; full avg10={f.Avg10:0.00} total={f.TotalMicroseconds}") : string.Empty);

    private static StallLine? ParseShare(string[] words)
    {
        double avg10 = 0, avg60 = 0, avg300 = 0;
        ulong total = 0;
        int seen = 0;
        foreach (string word in words.AsSpan(1))
        {
            int eq = word.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0)
            {
                return null;
            }

            string key = word[..eq];
            string value = word[(eq + 1)..];
            bool ok = key switch
            {
                "avg10" => double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out avg10),
                "avg60" => double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out avg60),
                "avg300" => double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out avg300),
                "total" => ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out total),
                _ => true,
            };
            if (!ok)
            {
                return null;
            }

            seen++;
        }

        return seen >= 4 ? new StallLine(avg10, avg60, avg300, total) : null;
    }
}
