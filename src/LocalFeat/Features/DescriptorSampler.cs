using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LocalFeat.Features;

/// <summary>Descriptors read off a dense feature map.</summary>
public static class DescriptorSampler
{
    /// <summary>
    /// Bilinear samples of <paramref name="features"/> [C,h,w] at cell positions <paramref name="positions"/> [N,2]
    /// float32 (row, col; integer = cell centre). Returns [N,C]; <paramref name="normalize"/> L2-normalises each row.
    /// </summary>
    public static Tensor Bilinear(Tensor features, Tensor positions, bool normalize = true)
    {
        if (features.dim() != 3) throw new ArgumentException($"argument 'features': expected [C,h,w], got [{string.Join(", ", features.shape)}]", nameof(features));
        if (positions.dim() != 2 || positions.size(1) != 2)
            throw new ArgumentException($"argument 'positions': expected [N,2] (row, col), got [{string.Join(", ", positions.shape)}]", nameof(positions));
        long c = features.size(0), h = features.size(1), w = features.size(2), n = positions.size(0);
        if (n == 0) return zeros([0, c], features.dtype, features.device);
        using var scope = NewDisposeScope();
        var pos = positions.to(features.dtype);
        var gx = pos.select(1, 1) * (2.0 / Math.Max(w - 1, 1)) - 1;
        var gy = pos.select(1, 0) * (2.0 / Math.Max(h - 1, 1)) - 1;
        var grid = stack([gx, gy], 1).view(1, 1, n, 2);
        var d = F.grid_sample(features.unsqueeze(0), grid, align_corners: true).view(c, n).t();
        if (normalize) d = F.normalize(d, dim: 1);
        return d.contiguous().MoveToOuterDisposeScope();
    }
}
