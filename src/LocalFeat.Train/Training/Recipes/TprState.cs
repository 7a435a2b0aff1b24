using LocalFeat.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LocalFeat.Train.Training.Recipes;

/// <summary>
/// The tpr recipe's modules, checkpointed together: the online projector and predictor (trained), and the target network and
/// target projector (EMA of the online ones, never trained).
/// </summary>
public sealed class TprState : nn.Module
{
    public TprState(FeatureNet online, int hidden, int projection) : base(nameof(TprState))
    {
        Projector = Head(online.Channels, hidden, projection);
        Predictor = Head(projection, hidden, projection);
        Target = FeatureNet.Create(online.Kind);
        TargetProjector = Head(online.Channels, hidden, projection);
        RegisterComponents();
    }

    public Sequential Projector { get; }
    public Sequential Predictor { get; }
    public FeatureNet Target { get; }
    public Sequential TargetProjector { get; }

    // BYOL's MLP (Linear, BatchNorm, ReLU, Linear), on per-correspondence rows: a 1×1 convolution of the sampled features.
    private static Sequential Head(int input, int hidden, int output) =>
        nn.Sequential(nn.Linear(input, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, output));
}
