using static TorchSharp.torch;

namespace LocalFeat.Train.Evaluation;

/// <summary>A detector + descriptor evaluated on grey uint8 [H,W] images.</summary>
public interface IFeatureExtractor
{
    string Name { get; }
    FeatureSet Extract(Tensor gray);
}
