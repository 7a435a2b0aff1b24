namespace LocalFeat.Train.Training;

/// <summary>Receives training progress (Spectre live display, plain lines, or nothing in tests).</summary>
public interface ITrainProgress
{
    void Started(long firstStep, long totalSteps);
    void Stepped(long completed, long totalSteps, Trainer.StepResult result, double imagesPerSecond);
    void Message(string text);
}
