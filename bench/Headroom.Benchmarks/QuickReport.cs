using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Headroom.Benchmarks;

/// <summary>Quick mode's output: a JSON array (the only thing on stdout with --json) or a readable table.</summary>
internal static class QuickReport
{
    // Relaxed escaping keeps "+" in names readable; the output goes to a terminal or a script, never into HTML.
    private static readonly QuickJsonContext Json = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    public static string ToJson(IReadOnlyList<QuickResult> results) => JsonSerializer.Serialize(results, Json.IReadOnlyListQuickResult);

    public static string ToTable(IReadOnlyList<QuickResult> results)
    {
        var table = new StringBuilder();
        table.AppendLine(CultureInfo.InvariantCulture, $"{"case",-28} {"threads",7} {"ns/op",9}   {"baseline",-22} {"ns/op",9} {"ratio",7}");
        foreach (QuickResult r in results)
        {
            table.AppendLine(CultureInfo.InvariantCulture,
                $"{r.Name,-28} {r.Threads,7} {r.NsPerOp,9:F2}   {r.Baseline,-22} {r.BaselineNsPerOp,9:F2} {r.Ratio,7:F3}");
        }

        return table.ToString();
    }
}

/// <summary>Source-generated serializer metadata: no reflection; property order follows <see cref="QuickResult"/>.</summary>
[JsonSerializable(typeof(IReadOnlyList<QuickResult>))]
internal sealed partial class QuickJsonContext : JsonSerializerContext;
