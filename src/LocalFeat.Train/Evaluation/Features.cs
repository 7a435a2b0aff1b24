using LocalFeat.Ops;
using LocalFeat.Torch;
using LocalFeat.Torch.Vision;
using LocalFeat.Train.Data;
using LocalFeat.Train.Models;
using F = LocalFeat.Torch.nn.functional;

namespace LocalFeat.Train.Evaluation;

/// <summary>Keypoints (pixels: x right, y down; pixel (x,y) is the centre of column x, row y) with scores and descriptors.</summary>
public sealed class FeatureSet : IDisposable
{
    public required float[] X { get; init; }
    public required float[] Y { get; init; }
    public required float[] Scale { get; init; }
    public required float[] Score { get; init; }
    /// <summary>[N,D] float32, or [N,B] uint8 bit-packed when <see cref="Binary"/> (compared by Hamming distance).</summary>
    public required Tensor Descriptors { get; init; }
    public bool Binary { get; init; }
    public int Count => X.Length;

    public void Dispose() => Descriptors.Dispose();
}

/// <summary>A detector + descriptor evaluated on grey uint8 [H,W] images.</summary>
public interface IFeatureExtractor
{
    string Name { get; }
    FeatureSet Extract(Tensor gray);
}

/// <summary>OpenCV SIFT or ORB, at most <c>budget</c> keypoints (strongest first).</summary>
public sealed class ClassicalExtractor(ClassicalFeature kind, int budget) : IFeatureExtractor
{
    public string Name => kind == ClassicalFeature.Sift ? "SIFT" : "ORB";

    public FeatureSet Extract(Tensor gray)
    {
        var (k, d) = Cv.Detect(gray, kind, budget);
        using (k)
        {
            var a = k.ToArray<float>();
            int n = a.Length / 4;
            return new FeatureSet
            {
                X = Enumerable.Range(0, n).Select(i => a[4 * i]).ToArray(),
                Y = Enumerable.Range(0, n).Select(i => a[4 * i + 1]).ToArray(),
                Scale = Enumerable.Range(0, n).Select(i => a[4 * i + 2]).ToArray(),
                Score = Enumerable.Range(0, n).Select(i => a[4 * i + 3]).ToArray(),
                Descriptors = d,
                Binary = kind == ClassicalFeature.Orb,
            };
        }
    }
}

/// <summary>
/// A trained <see cref="FeatureNet"/>: dense features of the whole image, keypoints by D2-Net hard detection
/// (channel max ∧ 3×3 spatial max ∧ Hessian edge test) or by the soft score with 3×3 NMS, the
/// <c>budget</c> highest-scoring kept; hard detections refined to sub-cell positions as D2-Net does (one Newton
/// step on the detected channel; detections that would move by half a cell or more are dropped); descriptors
/// bilinearly sampled from the feature map at those positions and L2-normalised.
/// </summary>
public sealed class NetExtractor(FeatureNet model, string detection, int budget, double edgeThreshold, bool dense, Device device,
    string name = "ours", bool refine = true) : IFeatureExtractor
{
    public string Name => name;
    public int Stride => model.StrideFor(dense);

    public FeatureSet Extract(Tensor gray)
    {
        using var guard = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var x = gray.to(ScalarType.Float32).div(255.0).unsqueeze(0).unsqueeze(0).to(device);
        var features = model.Forward(x, dense)[0].to(Device.CPU).contiguous();  // [C,h,w]
        Tensor rows, cols, scores;
        if (detection == "hard")
        {
            var (ch, r, c, sc) = HardDetect(features, edgeThreshold);
            (rows, cols, scores) = (r.to(ScalarType.Float32), c.to(ScalarType.Float32), sc);
            if (refine)
            {
                var (rr, rc, valid) = Refine(features, ch, r, c);
                var keep = Op.Get("aten::nonzero").CallTensor(valid).view(-1);
                (rows, cols, scores) = (rr.index_select(0, keep), rc.index_select(0, keep), sc.index_select(0, keep));
            }
        }
        else
        {
            var (r, c, sc) = SoftDetect(features);
            (rows, cols, scores) = (r.to(ScalarType.Float32), c.to(ScalarType.Float32), sc);
        }
        long n = rows.size(0);
        if (n > budget)
        {
            var (_, order) = scores.topk(budget);
            rows = rows.index_select(0, order); cols = cols.index_select(0, order); scores = scores.index_select(0, order);
            n = budget;
        }
        var pos = torch.stack([rows, cols], 1);
        var descriptors = F.normalize(SampleBilinear(features, pos), dim: 1).contiguous().MoveToOuterDisposeScope();
        var rs = rows.ToArray<float>();
        var cs = cols.ToArray<float>();
        int s = Stride;
        double o = model.CellOffsetFor(dense);
        return new FeatureSet
        {
            X = cs.Select(v => (float)Correspondences.CellToPixel(v + o, s)).ToArray(),
            Y = rs.Select(v => (float)Correspondences.CellToPixel(v + o, s)).ToArray(),
            Scale = Enumerable.Repeat(1f, (int)n).ToArray(),
            Score = scores.to(ScalarType.Float32).ToArray<float>(),
            Descriptors = descriptors,
        };
    }

    /// <summary>
    /// D2-Net's sub-cell refinement (lib/pyramid.py): at each detection (channel c, row i, col j) of the ReLU'd
    /// features, the step −H⁻¹∇ from central differences (Hessian from the same 3×3 filters, zero padding).
    /// Returns the refined (row, col) and whether the step stays below half a cell in both axes.
    /// </summary>
    public static (Tensor rows, Tensor cols, Tensor valid) Refine(Tensor features, Tensor channels, Tensor rows, Tensor cols)
    {
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
        return (rows.to(ScalarType.Float32) + stepI, cols.to(ScalarType.Float32) + stepJ, valid);
    }

    /// <summary>
    /// D2-Net's HardDetectionModule (lib/model_test.py) on raw features [C,h,w]; returns (row, col, score = feature
    /// value). The finite-difference Hessian (D2-Net's 3×3 filters, zero padding) is evaluated only at the
    /// channel-max ∧ spatial-max candidates instead of on every plane: same result, a fraction of the work.
    /// </summary>
    public static (Tensor channels, Tensor rows, Tensor cols, Tensor scores) HardDetect(Tensor features, double edgeThreshold)
    {
        var d = features.relu();
        var isDepthMax = d.eq(d.amax(0, keepdim: true));
        var isLocalMax = d.eq(F.max_pool2d(d.unsqueeze(0), 3, 1, 1)[0]);
        var idx = Op.Get("aten::nonzero").CallTensor(isDepthMax & isLocalMax & (d > 0.0));  // [K,3] (channel, row, col)
        var ch = idx.select(1, 0); var rows = idx.select(1, 1); var cols = idx.select(1, 2);
        var padded = F.pad(d, [1, 1, 1, 1]);
        Tensor At(long di, long dj) => padded.index(ch, rows + (1 + di), cols + (1 + dj));
        var centre = At(0, 0);
        var dii = At(-1, 0) - 2 * centre + At(1, 0);
        var djj = At(0, -1) - 2 * centre + At(0, 1);
        var dij = (At(-1, -1) - At(-1, 1) - At(1, -1) + At(1, 1)) * 0.25;
        var det = dii * djj - dij * dij;
        var tr = dii + djj;
        double threshold = (edgeThreshold + 1) * (edgeThreshold + 1) / edgeThreshold;
        var keep = Op.Get("aten::nonzero").CallTensor(((tr * tr / det) <= threshold) & (det > 0.0)).view(-1);
        return (ch.index_select(0, keep).contiguous(), rows.index_select(0, keep).contiguous(), cols.index_select(0, keep).contiguous(),
            centre.index_select(0, keep).contiguous());
    }

    /// <summary>D2 soft-detection score with 3×3 non-maximum suppression.</summary>
    public static (Tensor rows, Tensor cols, Tensor scores) SoftDetect(Tensor features)
    {
        var s = D2SoftDetect.Apply(features.unsqueeze(0).contiguous())[0];
        var keep = s.eq(F.max_pool2d(s.unsqueeze(0).unsqueeze(0), 3, 1, 1)[0][0]) & (s > 0.0);
        var idx = Op.Get("aten::nonzero").CallTensor(keep);
        var rows = idx.select(1, 0).contiguous(); var cols = idx.select(1, 1).contiguous();
        return (rows, cols, s.index(rows, cols));
    }

    /// <summary>Bilinear samples of features [C,h,w] at (row, col) cell positions [N,2] → [N,C].</summary>
    public static Tensor SampleBilinear(Tensor features, Tensor pos)
    {
        long c = features.size(0), h = features.size(1), w = features.size(2), n = pos.size(0);
        if (n == 0) return torch.zeros([0, c]);
        var gx = pos.select(1, 1) * (2.0 / Math.Max(w - 1, 1)) - 1;
        var gy = pos.select(1, 0) * (2.0 / Math.Max(h - 1, 1)) - 1;
        var grid = torch.stack([gx, gy], 1).view(1, 1, n, 2);
        return F.grid_sample(features.unsqueeze(0), grid, align_corners: true).view(c, n).t();
    }
}
