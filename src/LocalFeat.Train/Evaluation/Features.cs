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
/// <c>budget</c> highest-scoring kept; descriptors bilinearly sampled from the feature map and L2-normalised.
/// </summary>
public sealed class NetExtractor(FeatureNet model, string detection, int budget, double edgeThreshold, bool dense, Device device, string name = "ours") : IFeatureExtractor
{
    public string Name => name;
    public int Stride => model.StrideFor(dense);

    public FeatureSet Extract(Tensor gray)
    {
        using var guard = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var x = gray.to(ScalarType.Float32).div(255.0).unsqueeze(0).unsqueeze(0).to(device);
        var features = model.Forward(x, dense)[0].to(Device.CPU).contiguous();  // [C,h,w]
        var (rows, cols, scores) = detection == "hard" ? HardDetect(features, edgeThreshold) : SoftDetect(features);
        long n = rows.size(0);
        if (n > budget)
        {
            var (_, order) = scores.topk(budget);
            rows = rows.index_select(0, order); cols = cols.index_select(0, order); scores = scores.index_select(0, order);
            n = budget;
        }
        var pos = torch.stack([rows.to(ScalarType.Float32), cols.to(ScalarType.Float32)], 1);
        var descriptors = F.normalize(SampleBilinear(features, pos), dim: 1).contiguous().MoveToOuterDisposeScope();
        var r = rows.ToArray<long>();
        var c = cols.ToArray<long>();
        int s = Stride;
        return new FeatureSet
        {
            X = c.Select(v => (float)Correspondences.CellToPixel(v, s)).ToArray(),
            Y = r.Select(v => (float)Correspondences.CellToPixel(v, s)).ToArray(),
            Scale = Enumerable.Repeat(1f, (int)n).ToArray(),
            Score = scores.to(ScalarType.Float32).ToArray<float>(),
            Descriptors = descriptors,
        };
    }

    /// <summary>D2-Net's HardDetectionModule (lib/model_test.py) on raw features [C,h,w]; returns (row, col, score = feature value).</summary>
    public static (Tensor rows, Tensor cols, Tensor scores) HardDetect(Tensor features, double edgeThreshold)
    {
        long c = features.size(0), h = features.size(1), w = features.size(2);
        var d = features.relu();
        var isDepthMax = d.eq(d.amax(0, keepdim: true));
        var isLocalMax = d.eq(F.max_pool2d(d.unsqueeze(0), 3, 1, 1)[0]);
        var planes = d.view(c, 1, h, w);
        Tensor Filter(float[] k) => F.conv2d(planes, torch.tensor(k, 1, 1, 3, 3), padding: 1).view(c, h, w);
        var dii = Filter([0, 1, 0, 0, -2, 0, 0, 1, 0]);
        var dij = Filter([0.25f, 0, -0.25f, 0, 0, 0, -0.25f, 0, 0.25f]);
        var djj = Filter([0, 0, 0, 1, -2, 1, 0, 0, 0]);
        var det = dii * djj - dij * dij;
        var tr = dii + djj;
        double threshold = (edgeThreshold + 1) * (edgeThreshold + 1) / edgeThreshold;
        var notEdge = ((tr * tr / det) <= threshold) & (det > 0.0);
        var detected = isDepthMax & isLocalMax & notEdge & (d > 0.0);
        var idx = Op.Get("aten::nonzero").CallTensor(detected);  // [K,3] (channel, row, col)
        var ch = idx.select(1, 0); var rows = idx.select(1, 1); var cols = idx.select(1, 2);
        var scores = d.index(ch, rows, cols);
        return (rows.contiguous(), cols.contiguous(), scores.contiguous());
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
