namespace Headroom;

/// <summary>A registered reclaimer, as <see cref="MemoryBudget.Inspect"/> found it.</summary>
/// <param name="Reclaimer">The reclaimer's type name.</param>
/// <param name="Budget">The budget it is registered on.</param>
/// <param name="Domain">Its domain, which a NoReclaim scope may exclude.</param>
/// <param name="Cost">Its cost ("seeks"): cheaper reclaimers are asked first.</param>
/// <param name="DoesIo">Whether it does I/O.</param>
/// <param name="ReclaimableBytes">What it said it could free when asked for the report; <see langword="null"/> when that call threw.</param>
public sealed record ReclaimerReport(string Reclaimer, string Budget, string Domain, int Cost, bool DoesIo, long? ReclaimableBytes)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"{Reclaimer} on '{Budget}' (domain '{Domain}', cost {Cost}{(DoesIo ? ", does I/O" : string.Empty)}): reclaimable {(ReclaimableBytes is { } r ? r.ToString(System.Globalization.CultureInfo.InvariantCulture) : "unknown (it threw)")}";
}
