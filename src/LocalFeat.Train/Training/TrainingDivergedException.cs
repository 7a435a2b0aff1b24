namespace LocalFeat.Train.Training;

/// <summary>The loss or the weights stopped being finite; the message names the step and what went non-finite.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);
