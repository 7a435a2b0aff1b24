using TorchSharp;
using static TorchSharp.torch;

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
        var h = new CellDerivatives(features.relu(), channels, rows, cols);
        var det = h.Det();
        var (gi, gj) = h.Gradient();
        var stepI = -(h.Djj * gi - h.Dij * gj) / det;
        var stepJ = -(h.Dii * gj - h.Dij * gi) / det;
        var valid = (stepI.abs() < 0.5) & (stepJ.abs() < 0.5);
        return ((rows.to(ScalarType.Float32) + stepI).MoveToOuterDisposeScope(), (cols.to(ScalarType.Float32) + stepJ).MoveToOuterDisposeScope(),
            valid.MoveToOuterDisposeScope());
    }
}
