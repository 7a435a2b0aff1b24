namespace LocalFeat.Train.Training;

/// <summary>How a training run ended.</summary>
public sealed record TrainOutcome(long StartStep, long FinalStep, bool Interrupted, string Checkpoint, double? LastLoss, TimeSpan Elapsed);
