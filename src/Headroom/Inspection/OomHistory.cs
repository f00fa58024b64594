namespace Headroom.Inspection;

/// <summary>The last reports of a tree's OOM killer, kept for <see cref="MemoryBudget.Inspect"/>: a small ring, newest last.</summary>
internal sealed class OomHistory
{
    /// <summary>How many reports are kept.</summary>
    internal const int Capacity = 8;

    private readonly Queue<OomSummary> _reports = new(Capacity);

    /// <summary>Keeps a report; raised by the killer outside every lock, so only this leaf lock is taken.</summary>
    internal void Add(OomReport report)
    {
        OomSummary summary = OomSummary.From(report); // built outside the lock
        lock (_reports)
        {
            LockOrder.Entered(LockLevel.Leaf, _reports);
            if (_reports.Count == Capacity)
            {
                _reports.Dequeue();
            }

            _reports.Enqueue(summary);
        }
    }

    internal OomSummary[] Recent()
    {
        lock (_reports)
        {
            LockOrder.Entered(LockLevel.Leaf, _reports);
            return [.. _reports];
        }
    }
}
