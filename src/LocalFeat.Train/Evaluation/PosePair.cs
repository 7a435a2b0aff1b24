using static TorchSharp.torch;

namespace LocalFeat.Train.Evaluation;

/// <summary>
/// Two grey uint8 images [H,W] of one scene with their pinhole intrinsics (row-major 3×3, pixels of these images)
/// and the ground-truth relative pose: <see cref="T0to1"/> (row-major 4×4) maps camera-0 coordinates to camera-1
/// coordinates, as in SuperGlue's pairs files.
/// </summary>
public sealed record PosePair(string Name, Tensor Gray0, Tensor Gray1, double[] K0, double[] K1, double[] T0to1) : IDisposable
{
    public void Dispose() { Gray0.Dispose(); Gray1.Dispose(); }
}
