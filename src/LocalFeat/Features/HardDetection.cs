using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Features;

/// <summary>D2-Net's hard detection (HardDetectionModule, lib/model_test.py).</summary>
public static class HardDetection
{
    /// <summary>
    /// Detections of raw features [C,h,w]: a cell (i,j) of channel c is kept where ReLU(features) is positive, the
    /// maximum over channels, the maximum of its 3×3 window, and passes the Hessian edge test
    /// tr²/det ≤ (t+1)²/t with det &gt; 0 (D2-Net's 3×3 finite-difference filters, zero padding). The Hessian is
    /// evaluated only at the candidates: same result as D2-Net's whole-plane filters, a fraction of the work.
    /// </summary>
    /// <returns>int64 [K] channel, row, col of each detection and its score (the feature value) [K] float32, in
    /// (channel, row, col) order.</returns>
    public static (Tensor channels, Tensor rows, Tensor cols, Tensor scores) Detect(Tensor features, double edgeThreshold = 7.2)
    {
        if (features.dim() != 3) throw new ArgumentException($"argument 'features': expected [C,h,w], got [{string.Join(", ", features.shape)}]", nameof(features));
        if (!(edgeThreshold > 0)) throw new ArgumentException($"argument 'edgeThreshold': expected a number > 0, got {edgeThreshold}", nameof(edgeThreshold));
        using var scope = NewDisposeScope();
        var d = features.relu();
        var isDepthMax = d.eq(d.amax([0], keepdim: true));
        var isLocalMax = NonMaximumSuppression.Mask(d);
        var idx = (isDepthMax & isLocalMax & (d > 0.0)).nonzero();  // [K,3] (channel, row, col)
        var ch = idx.select(1, 0); var rows = idx.select(1, 1); var cols = idx.select(1, 2);
        var h = new CellDerivatives(d, ch, rows, cols);
        var det = h.Det();
        var tr = h.Dii + h.Djj;
        double threshold = (edgeThreshold + 1) * (edgeThreshold + 1) / edgeThreshold;
        var keep = (((tr * tr / det) <= threshold) & (det > 0.0)).nonzero().view(-1);
        return (ch.index_select(0, keep).contiguous().MoveToOuterDisposeScope(), rows.index_select(0, keep).contiguous().MoveToOuterDisposeScope(),
            cols.index_select(0, keep).contiguous().MoveToOuterDisposeScope(), h.Value.index_select(0, keep).contiguous().MoveToOuterDisposeScope());
    }
}
