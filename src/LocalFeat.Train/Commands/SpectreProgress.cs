using System.Globalization;
using LocalFeat.Train.Training;
using Spectre.Console;

namespace LocalFeat.Train.Commands;

/// <summary>Live progress bar on a terminal (Spectre.Console).</summary>
internal sealed class SpectreProgress(ProgressContext ctx) : ITrainProgress
{
    private ProgressTask? _task;

    public void Started(long firstStep, long totalSteps)
    {
        _task = ctx.AddTask("training", maxValue: totalSteps);
        _task.Value = firstStep;
    }

    public void Stepped(long completed, long totalSteps, Trainer.StepResult r, double imagesPerSecond)
    {
        if (_task is null) return;
        _task.Description = string.Create(CultureInfo.InvariantCulture,
            $"step {completed}/{totalSteps}  loss {r.Loss:F4}  lr {r.Lr:0.0e0}  {imagesPerSecond:F1} img/s");
        _task.Value = completed;
    }

    public void Message(string text) => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(text)}[/]");
}
