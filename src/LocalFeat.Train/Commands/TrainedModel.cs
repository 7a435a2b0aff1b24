using LocalFeat.Features;
using LocalFeat.Models;
using LocalFeat.Train.Evaluation;
using TorchSharp;
using static TorchSharp.torch;
using LocalFeat.Train.Training;

namespace LocalFeat.Train.Commands;

/// <summary>
/// A checkpoint's model opened for inference with its saved settings and the command line's overrides applied
/// (eval, extract and match share it).
/// </summary>
internal sealed class TrainedModel : IDisposable
{
    public Checkpoint.Info Info { get; }
    private readonly CheckpointPin _pin;
    public TrainConfig Config { get; }
    public FeatureNet Model { get; }
    public Device Device { get; }

    private TrainedModel(CheckpointPin pin, TrainConfig config, FeatureNet model, Device device) =>
        (_pin, Info, Config, Model, Device) = (pin, pin.Info, config, model, device);

    /// <summary><paramref name="configure"/> runs after the overrides and before validation.</summary>
    public static TrainedModel Open(string checkpointPath, IEnumerable<(string key, string value)> overrides, Action<TrainConfig>? configure = null)
    {
        // Pinned: a train running into the same folder does not prune it while this reads it.
        var pin = Checkpoint.Pin(checkpointPath);
        try
        {
            var info = pin.Info;
            var c = info.Config;
            foreach (var (k, v) in overrides) c.Set(k, v);
            configure?.Invoke(c);
            c.Validate();
            torch.set_num_threads(c.Run.Threads > 0 ? c.Run.Threads : Environment.ProcessorCount);
            var device = TrainSession.ResolveDevice(c.Run.Device);
            var model = Checkpoint.LoadModel(info);
            model.to(device);
            model.eval();
            return new TrainedModel(pin, c, model, device);
        }
        catch { pin.Dispose(); throw; }
    }

    /// <summary>The model's keypoints and descriptors with the eval.* settings.</summary>
    public CappedExtractor Extractor(string name = "ours", Action<string>? note = null)
    {
        // The model's largest level is the image × the largest scale: the cap bounds that working size.
        double top = Math.Max(1, TrainConfig.ParseScales(Config.Eval.Scales).Max());
        int side = Math.Max(CappedExtractor.MinSide, (int)(Config.Eval.MaxImageSide / top));
        return new(new NetExtractor(Model, Options(Config), name), side, note,
            top > 1 ? $"eval.max_image_side {Config.Eval.MaxImageSide} ÷ largest eval.scales {top:0.##}" : null);
    }

    /// <summary>The library's extraction settings of the eval.* keys.</summary>
    public static ExtractionOptions Options(TrainConfig c) =>
        new(c.Eval.Detection, c.Eval.Budget, c.Eval.EdgeThreshold, c.Eval.Refine, c.Eval.Dense, TrainConfig.ParseScales(c.Eval.Scales));

    public void Dispose()
    {
        Model.Dispose();
        _pin.Dispose();
    }
}
