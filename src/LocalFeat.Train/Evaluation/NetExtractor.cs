using LocalFeat.Features;
using LocalFeat.Models;
using static TorchSharp.torch;

namespace LocalFeat.Train.Evaluation;

/// <summary>A trained <see cref="FeatureNet"/> through the library's <see cref="DenseFeatureExtractor"/>, as a <see cref="FeatureSet"/>.</summary>
public sealed class NetExtractor(FeatureNet model, ExtractionOptions options, string name = "ours") : IFeatureExtractor
{
    private readonly DenseFeatureExtractor _extractor = new(model, options);

    public string Name => name;
    public int Stride => _extractor.Stride;

    public FeatureSet Extract(Tensor gray)
    {
        using var f = _extractor.Extract(gray);
        var xy = f.Keypoints.Values<float>();
        int n = (int)f.Count;
        return new FeatureSet
        {
            X = Enumerable.Range(0, n).Select(i => xy[2 * i]).ToArray(),
            Y = Enumerable.Range(0, n).Select(i => xy[2 * i + 1]).ToArray(),
            Scale = Enumerable.Repeat(1f, n).ToArray(),
            Score = f.Scores.Values<float>(),
            Descriptors = f.Descriptors.alias().DetachFromDisposeScope(),
        };
    }
}
