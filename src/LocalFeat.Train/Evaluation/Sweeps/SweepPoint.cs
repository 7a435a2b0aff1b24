namespace LocalFeat.Train.Evaluation.Sweeps;

/// <summary>One method at one step of a sweep, summarised over the sweep's photos.</summary>
public sealed record SweepPoint(Sweep Sweep, double Step, SetSummary Summary);
