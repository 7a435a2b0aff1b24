using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LocalFeat.Features;

/// <summary>Spatial non-maximum suppression on score maps (kornia.feature-like).</summary>
public static class NonMaximumSuppression
{
    /// <summary>
    /// Where <paramref name="scores"/> [H,W] (or [..., H, W]) equals the maximum of its k×k window (zero padding is
    /// not used: the window is clipped at the border). Returns a bool tensor of the same shape; ties keep all.
    /// </summary>
    public static Tensor Mask(Tensor scores, int kernel = 3)
    {
        if (scores.dim() < 2) throw new ArgumentException($"argument 'scores': expected [..., H, W], got [{string.Join(", ", scores.shape)}]", nameof(scores));
        if (kernel < 1 || kernel % 2 == 0) throw new ArgumentException($"argument 'kernel': expected an odd size ≥ 1, got {kernel}", nameof(kernel));
        using var scope = NewDisposeScope();
        var shape = scores.shape;
        var flat = scores.reshape(-1, 1, shape[^2], shape[^1]);
        var max = F.max_pool2d(flat, kernel, stride: 1, padding: kernel / 2);
        return flat.eq(max).reshape(shape).MoveToOuterDisposeScope();
    }
}
