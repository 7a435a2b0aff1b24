using LocalFeat.Train.Vision;
using static TorchSharp.torch;

namespace LocalFeat.Train.Evaluation;

/// <summary>OpenCV SIFT or ORB, at most <c>budget</c> keypoints (strongest first).</summary>
public sealed class ClassicalExtractor(ClassicalFeature kind, int budget) : IFeatureExtractor
{
    public string Name => kind == ClassicalFeature.Sift ? "SIFT" : "ORB";

    public FeatureSet Extract(Tensor gray)
    {
        var (k, d) = OpenCv.Detect(gray, kind, budget);
        using (k)
        {
            var a = k.Values<float>();
            int n = a.Length / 4;
            return new FeatureSet
            {
                X = Enumerable.Range(0, n).Select(i => a[4 * i]).ToArray(),
                Y = Enumerable.Range(0, n).Select(i => a[4 * i + 1]).ToArray(),
                Scale = Enumerable.Range(0, n).Select(i => a[4 * i + 2]).ToArray(),
                Score = Enumerable.Range(0, n).Select(i => a[4 * i + 3]).ToArray(),
                Descriptors = d,
                Binary = kind == ClassicalFeature.Orb,
            };
        }
    }
}
