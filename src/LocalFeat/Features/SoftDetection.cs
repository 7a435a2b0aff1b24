using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Features;

/// <summary>Keypoints from D2-Net's soft-detection score.</summary>
public static class SoftDetection
{
    /// <summary>
    /// The D2 soft-detection score (<see cref="D2SoftDetect"/>) of raw features [C,h,w], kept where positive and the
    /// maximum of its 3×3 window.
    /// </summary>
    /// <returns>int64 rows [K], cols [K] in row-major order, and float32 scores [K].</returns>
    public static (Tensor rows, Tensor cols, Tensor scores) Detect(Tensor features)
    {
        if (features.dim() != 3) throw new ArgumentException($"argument 'features': expected [C,h,w], got [{string.Join(", ", features.shape)}]", nameof(features));
        using var scope = NewDisposeScope();
        var s = D2SoftDetect.Apply(features.unsqueeze(0).contiguous())[0];
        var idx = (NonMaximumSuppression.Mask(s) & (s > 0.0)).nonzero();
        var rows = idx.select(1, 0).contiguous(); var cols = idx.select(1, 1).contiguous();
        return (rows.MoveToOuterDisposeScope(), cols.MoveToOuterDisposeScope(), s.index(rows, cols).MoveToOuterDisposeScope());
    }
}
