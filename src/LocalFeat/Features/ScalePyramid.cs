using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LocalFeat.Features;

/// <summary>D2-Net's multiscale merge (lib/pyramid.py, process_multiscale) of dense features computed at several image scales.</summary>
public static class ScalePyramid
{
    /// <summary>
    /// Hard detections across levels given coarsest first (D2-Net: scales 0.5, 1, 2). Level k's features are its own
    /// plus the bilinearly upsampled (align_corners) accumulated features of the levels before it; a detection is
    /// kept once, at the coarsest level that detects it: cells where a coarser level detected anything (that level's
    /// detection mask upsampled by nearest neighbour, accumulated) are banned at the finer ones. With
    /// <paramref name="refine"/> each detection gets the <see cref="SubpixelRefinement"/> step (those moving ≥ half a
    /// cell dropped). Scores: the accumulated feature value ÷ (k + 1); descriptors: the accumulated features sampled
    /// bilinearly at the (refined) position, L2-normalised.
    /// </summary>
    /// <param name="levels">raw features [C,h_k,w_k] per level, coarsest first.</param>
    /// <returns>level index int64 [K], float32 rows and cols [K] in cells of that level, scores [K], descriptors [K,C].</returns>
    public static (Tensor levels, Tensor rows, Tensor cols, Tensor scores, Tensor descriptors) Detect(IReadOnlyList<Tensor> levels, double edgeThreshold = 7.2, bool refine = true)
    {
        if (levels.Count == 0) throw new ArgumentException("argument 'levels': expected at least one feature map, got none", nameof(levels));
        for (int k = 0; k < levels.Count; k++)
            if (levels[k].dim() != 3 || levels[k].size(0) != levels[0].size(0))
                throw new ArgumentException($"argument 'levels': expected [C,h,w] maps with C = {levels[0].size(0)}, level {k} is [{string.Join(", ", levels[k].shape)}]", nameof(levels));
        using var scope = NewDisposeScope();
        Tensor? previous = null, banned = null;
        var (lv, rs, cs, ss, ds) = (new List<Tensor>(), new List<Tensor>(), new List<Tensor>(), new List<Tensor>(), new List<Tensor>());
        for (int k = 0; k < levels.Count; k++)
        {
            var features = levels[k];
            long h = features.size(1), w = features.size(2);
            if (previous is not null)
                features = features + F.interpolate(previous.unsqueeze(0), [h, w], mode: InterpolationMode.Bilinear, align_corners: true)[0];
            var (ch, r, c, sc) = HardDetection.Detect(features, edgeThreshold);
            var detected = zeros([h, w], ScalarType.Bool);
            if (banned is not null)
            {
                banned = F.interpolate(banned.to(ScalarType.Float32).view(1, 1, banned.size(0), banned.size(1)), [h, w], mode: InterpolationMode.Nearest)[0, 0].gt(0.5);
                var free = banned.index(r, c).logical_not().nonzero().view(-1);
                (ch, r, c, sc) = (ch.index_select(0, free), r.index_select(0, free), c.index_select(0, free), sc.index_select(0, free));
            }
            detected.index_put_(ones(r.size(0), ScalarType.Bool), r, c);
            banned = banned is null ? detected : banned.logical_or(detected);
            Tensor rows = r.to(ScalarType.Float32), cols = c.to(ScalarType.Float32);
            if (refine)
            {
                var (rr, rc, valid) = SubpixelRefinement.Refine(features, ch, r, c);
                var keep = valid.nonzero().view(-1);
                (rows, cols, sc) = (rr.index_select(0, keep), rc.index_select(0, keep), sc.index_select(0, keep));
            }
            lv.Add(full(rows.size(0), (long)k, ScalarType.Int64));
            rs.Add(rows); cs.Add(cols); ss.Add(sc.to(ScalarType.Float32) / (k + 1));
            ds.Add(DescriptorSampler.Bilinear(features, stack([rows, cols], 1)));
            previous = features;
        }
        return (cat(lv, 0).MoveToOuterDisposeScope(), cat(rs, 0).MoveToOuterDisposeScope(), cat(cs, 0).MoveToOuterDisposeScope(),
            cat(ss, 0).MoveToOuterDisposeScope(), cat(ds, 0).contiguous().MoveToOuterDisposeScope());
    }
}
