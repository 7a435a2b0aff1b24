using LocalFeat.Train.Training;

namespace LocalFeat.Train.Distributed;

/// <summary>Ranks other than 0 report nothing: rank 0 speaks for the run (errors still reach stderr).</summary>
public sealed class SilentProgress : ITrainProgress
{
    public void Started(long firstStep, long totalSteps) { }
    public void Stepped(long completed, long totalSteps, Trainer.StepResult result, double imagesPerSecond) { }
    public void Message(string text) { }
}
