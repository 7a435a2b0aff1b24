using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Ops;

public static partial class PatchPHash
{
    /// <summary>
    /// The oracle, in float64: grid_sample (bilinear, align_corners, border padding) for the 32×32 patches, the DCT
    /// as C·P·Cᵀ with the 8×32 cosine table, the mean of the 32nd and 33rd smallest of the 64 coefficients, bits by
    /// comparison. Coefficients below 1e-9 of the patch's largest are set to 0: they are float64 rounding of the
    /// exact zeros of flat and linear patches (which scipy's FFT returns exactly, and the butterfly of Cpu/Kernel too).
    /// </summary>
    internal static Tensor Reference(Tensor images, Tensor keypoints, float spacing)
    {
        using var scope = torch.NewDisposeScope();
        long b = images.size(0), n = keypoints.size(1);
        if (n == 0) return torch.empty([b, 0], ScalarType.Int64, images.device).MoveToOuterDisposeScope();
        var (dct, median) = ReferenceCoefficients(images, keypoints, spacing);
        var bits = dct.gt(median).to(ScalarType.Int64);
        // Bit i of the row-major block at position 63 − i; distinct powers of two, so the sum is the OR (wrapping at bit 63).
        var weights = torch.tensor(Enumerable.Range(0, 64).Select(i => unchecked((long)(1UL << (63 - i)))).ToArray(), device: images.device);
        return bits.mul(weights).sum(-1).MoveToOuterDisposeScope();
    }

    /// <summary>The 64 low coefficients [B, N, 64] (row-major 8×8, float64) and their median [B, N, 1]: tests use them to explain differences.</summary>
    internal static (Tensor dct, Tensor median) ReferenceCoefficients(Tensor images, Tensor keypoints, float spacing)
    {
        using var scope = torch.NewDisposeScope();
        long b = images.size(0), h = images.size(2), w = images.size(3), n = keypoints.size(1);
        var device = images.device;
        var offsets = torch.arange(Side, ScalarType.Float32, device).sub(15.5).mul(spacing);  // float32, as the other backends
        var kx = keypoints.select(2, 0).unsqueeze(-1);  // [B, N, 1]
        var ky = keypoints.select(2, 1).unsqueeze(-1);
        var xs = (kx + offsets).clamp(0, w - 1).to(ScalarType.Float64);  // [B, N, 32] columns
        var ys = (ky + offsets).clamp(0, h - 1).to(ScalarType.Float64);  // [B, N, 32] rows
        // align_corners = true: −1 and 1 are the centres of the first and last pixel.
        var gx = xs.mul(2.0 / Math.Max(w - 1, 1)).sub(1).unsqueeze(2).expand(b, n, Side, Side);
        var gy = ys.mul(2.0 / Math.Max(h - 1, 1)).sub(1).unsqueeze(3).expand(b, n, Side, Side);
        var grid = torch.stack([gx, gy], -1).reshape(b, n * Side, Side, 2);
        var patches = nn.functional.grid_sample(images.to(ScalarType.Float64), grid, GridSampleMode.Bilinear, GridSamplePaddingMode.Border, align_corners: true)
            .reshape(b, n, Side, Side);

        var k = torch.arange(8, ScalarType.Float64, device).unsqueeze(1);
        var m = torch.arange(Side, ScalarType.Float64, device).unsqueeze(0);
        var cosines = torch.cos(k * (2 * m + 1) * (Math.PI / (2 * Side))).mul(2);  // [8, 32]: y = 2 Σ x cos(πk(2n+1)/64)
        var dct = cosines.matmul(patches).matmul(cosines.t()).reshape(b, n, 64);  // rows then columns, top-left 8×8
        var scale = dct.abs().amax([-1], keepdim: true);
        dct = torch.where(dct.abs() <= scale * 1e-9, torch.zeros_like(dct), dct);
        var sorted = dct.sort(-1).Values;
        var median = (sorted.select(-1, 31) + sorted.select(-1, 32)).unsqueeze(-1) / 2;
        return (dct.MoveToOuterDisposeScope(), median.MoveToOuterDisposeScope());
    }
}
