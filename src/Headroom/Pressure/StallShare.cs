using System.Globalization;

namespace Headroom;

/// <summary>
/// One line of pressure stall information, as Linux's PSI reports it (<c>Documentation/accounting/psi.rst</c>): the
/// share of wall time spent stalled, averaged over the last 10, 60 and 300 seconds, and the total stall time.
/// </summary>
/// <param name="Avg10">The share of the last 10 s spent stalled, in percent (0 to 100, two decimals as the kernel prints it).</param>
/// <param name="Avg60">The share of the last 60 s, in percent.</param>
/// <param name="Avg300">The share of the last 300 s, in percent.</param>
/// <param name="TotalMicroseconds">The stall time since the start, in microseconds, the stall in progress included.</param>
public readonly record struct StallShare(double Avg10, double Avg60, double Avg300, long TotalMicroseconds)
{
    /// <summary>Gets <see cref="TotalMicroseconds"/> as a duration.</summary>
    public TimeSpan Total => TimeSpan.FromMicroseconds(TotalMicroseconds);

    /// <summary>Formats the share as a line of <c>/proc/pressure/memory</c> does, without the state's name.</summary>
    /// <returns>For example <c>avg10=1.50 avg60=0.25 avg300=0.05 total=12345</c>.</returns>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"avg10={Avg10:0.00} avg60={Avg60:0.00} avg300={Avg300:0.00} total={TotalMicroseconds}");
}
