using static TorchSharp.torch;

namespace LocalFeat.Train.Evaluation;

/// <summary>Two grey uint8 images [H,W] and the ground-truth homography mapping image-1 pixels to image-2 pixels.</summary>
public sealed record EvalPair(string Name, Tensor Gray1, Tensor Gray2, double[] H) : IDisposable
{
    public void Dispose() { Gray1.Dispose(); Gray2.Dispose(); }
}
