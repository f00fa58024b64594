namespace Headroom;

/// <summary>A pressure trigger fired: its state stalled at least its threshold within its window.</summary>
/// <param name="Budget">The budget whose pressure crossed the threshold.</param>
/// <param name="Kind">The state the trigger watches.</param>
/// <param name="Stalled">The stall time measured within the window (psi's growth, with the previous window's share interpolated).</param>
/// <param name="Threshold">The trigger's threshold.</param>
/// <param name="Window">The trigger's window.</param>
/// <param name="Time">When the trigger fired, by the budget tree's clock.</param>
public readonly record struct PressureEvent(string Budget, StallKind Kind, TimeSpan Stalled, TimeSpan Threshold, TimeSpan Window, DateTimeOffset Time);
