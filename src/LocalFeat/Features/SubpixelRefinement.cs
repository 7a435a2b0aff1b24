using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LocalFeat.Features;

/// <summary>D2-Net's sub-cell localisation of hard detections (lib/pyramid.py).</summary>
public static class SubpixelRefinement
{
    /// <summary>
    /// At each detection (channel c, row i, col j) of ReLU(features) [C,h,w], one Newton step −H⁻¹∇ from central
    /// differences (Hessian from the same 3×3 filters as <see cref="HardDetection"/>, zero padding).
    /// </summary>
    /// <param name="channels">int64 [K].</param><param name="rows">int64 [K].</param><param name="cols">int64 [K].</param>
    /// <returns>refined float32 rows [K] and cols [K], and bool valid [K]: the step is below half a cell in both
    /// axes (D2-Net drops the others).</returns>
    public static (Tensor rows, Tensor cols, Tensor valid) Refine(Tensor features, Tensor channels, Tensor rows, Tensor cols)
    {
        if (features.dim() != 3) throw new ArgumentException($"argument 'features': expected [C,h,w], got [{string.Join(", ", features.shape)}]", nameof(features));
        using var scope = NewDisposeScope();
        var padded = F.pad(features.relu(), [1, 1, 1, 1]);
        Tensor At(long di, long dj) => padded.index(channels, rows + (1 + di), cols + (1 + dj));
        var centre = At(0, 0);
        var dii = At(-1, 0) - 2 * centre + At(1, 0);
        var djj = At(0, -1) - 2 * centre + At(0, 1);
        var dij = (At(-1, -1) - At(-1, 1) - At(1, -1) + At(1, 1)) * 0.25;
        var det = dii * djj - dij * dij;
        var gi = (At(1, 0) - At(-1, 0)) * 0.5;
        var gj = (At(0, 1) - At(0, -1)) * 0.5;
        var stepI = -(djj * gi - dij * gj) / det;
        var stepJ = -(dii * gj - dij * gi) / det;
        var valid = (stepI.abs() < 0.5) & (stepJ.abs() < 0.5);
        return ((rows.to(ScalarType.Float32) + stepI).MoveToOuterDisposeScope(), (cols.to(ScalarType.Float32) + stepJ).MoveToOuterDisposeScope(),
            valid.MoveToOuterDisposeScope());
    }
}
