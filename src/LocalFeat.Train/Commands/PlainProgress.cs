using System.Globalization;
using LocalFeat.Train.Training;

namespace LocalFeat.Train.Commands;

/// <summary>For logs and pipes: one line every <c>run.log_every</c> steps with the ETA.</summary>
internal sealed class PlainProgress(long every) : ITrainProgress
{
    private readonly System.Diagnostics.Stopwatch _clock = new();
    private long _first;

    public void Started(long firstStep, long totalSteps) { _first = firstStep; _clock.Start(); }

    public void Stepped(long completed, long totalSteps, Trainer.StepResult r, double imagesPerSecond)
    {
        if (completed % every != 0 && completed != totalSteps) return;
        double perStep = _clock.Elapsed.TotalSeconds / Math.Max(1, completed - _first);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"step {completed}/{totalSteps}  loss {r.Loss:F4}  lr {r.Lr:0.0e0}  {imagesPerSecond:F1} img/s  ETA {Eta(perStep * (totalSteps - completed))}"));
    }

    /// <summary>h:mm:ss in double arithmetic (a TimeSpan overflows past 29,000 years, e.g. with --steps 10^14).</summary>
    public static string Eta(double seconds)
    {
        if (!double.IsFinite(seconds) || seconds < 0) return "--:--:--";
        if (seconds >= 1e6 * 3600) return "> 10^6 h";
        long s = (long)seconds;
        return string.Create(CultureInfo.InvariantCulture, $"{s / 3600:00}:{s / 60 % 60:00}:{s % 60:00}");
    }

    public void Message(string text) => Console.WriteLine(text);
}
