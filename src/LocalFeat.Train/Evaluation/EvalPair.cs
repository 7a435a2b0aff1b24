using static TorchSharp.torch;

namespace LocalFeat.Train.Evaluation;

/// <summary>
/// Two grey uint8 images [H,W] and the ground-truth homography mapping image-1 pixels to image-2 pixels;
/// <see cref="Valid2"/>, when set, marks the image-2 pixels that show the scene (a warp's border does not):
/// keypoints elsewhere are dropped for every method.
/// </summary>
public sealed record EvalPair(string Name, Tensor Gray1, Tensor Gray2, double[] H) : IDisposable
{
    /// <summary>bool [H,W] of image 2, or null when every pixel is valid.</summary>
    public Tensor? Valid2 { get; init; }

    public void Dispose() { Gray1.Dispose(); Gray2.Dispose(); Valid2?.Dispose(); }
}
