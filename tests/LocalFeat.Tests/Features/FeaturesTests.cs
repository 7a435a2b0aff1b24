using LocalFeat.Features;
using LocalFeat.Models;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LocalFeat.Tests.Features;

[Collection(SerialCollection.Name)]  // seeds the process-wide generator
public class FeaturesTests
{
    private static (long, long)[] Pairs(Tensor m)
    {
        var v = m.data<long>().ToArray();
        return Enumerable.Range(0, v.Length / 2).Select(k => (v[2 * k], v[2 * k + 1])).ToArray();
    }

    // Brute force: j = argmin_j d(i, j) (first on ties), kept when i = argmin_i d(i, j).
    private static (long, long)[] BruteForce(double[,] d)
    {
        int n = d.GetLength(0), m = d.GetLength(1);
        int Row(int i) { int best = 0; for (int j = 1; j < m; j++) if (d[i, j] < d[i, best]) best = j; return best; }
        int Col(int j) { int best = 0; for (int i = 1; i < n; i++) if (d[i, j] < d[best, j]) best = i; return best; }
        return Enumerable.Range(0, n).Where(i => Col(Row(i)) == i).Select(i => ((long)i, (long)Row(i))).ToArray();
    }

    [Fact]
    public void MutualNearestNeighbors_L2_EqualsBruteForce()
    {
        using var scope = NewDisposeScope();
        using var gen = new Generator(11);
        var a = randn(new long[] { 37, 8 }, generator: gen);
        var b = randn(new long[] { 29, 8 }, generator: gen);
        var av = a.data<float>().ToArray(); var bv = b.data<float>().ToArray();
        var d = new double[37, 29];
        for (int i = 0; i < 37; i++)
            for (int j = 0; j < 29; j++)
                d[i, j] = Enumerable.Range(0, 8).Sum(k => Math.Pow((double)av[8 * i + k] - bv[8 * j + k], 2));
        var want = BruteForce(d);
        Assert.True(want.Length > 5, $"only {want.Length} mutual pairs");
        Assert.Equal(want, Pairs(MutualNearestNeighbors.Match(a, b)));
    }

    [Fact]
    public void MutualNearestNeighbors_Hamming_EqualsBruteForceOnPopcounts()
    {
        using var scope = NewDisposeScope();
        var rng = new Random(5);
        var a = new byte[23 * 4]; var b = new byte[19 * 4];
        rng.NextBytes(a); rng.NextBytes(b);
        var d = new double[23, 19];
        for (int i = 0; i < 23; i++)
            for (int j = 0; j < 19; j++)
                d[i, j] = Enumerable.Range(0, 4).Sum(k => System.Numerics.BitOperations.PopCount((uint)(a[4 * i + k] ^ b[4 * j + k])));
        var got = MutualNearestNeighbors.Match(tensor(a, new long[] { 23, 4 }), tensor(b, new long[] { 19, 4 }), DescriptorMetric.Hamming);
        Assert.Equal(BruteForce(d), Pairs(got));
        var dist = MutualNearestNeighbors.Distances(tensor(a, new long[] { 23, 4 }), tensor(b, new long[] { 19, 4 }), DescriptorMetric.Hamming);
        Assert.Equal(d[3, 7], dist[3, 7].item<float>());
    }

    [Fact]
    public void MutualNearestNeighbors_EmptyAndBadInputs()
    {
        using var scope = NewDisposeScope();
        Assert.Equal(new long[] { 0, 2 }, MutualNearestNeighbors.Match(zeros(0, 4), ones(3, 4)).shape);
        var e = Assert.Throws<ArgumentException>(() => MutualNearestNeighbors.Match(ones(2, 4), ones(3, 5)));
        Assert.Contains("descriptors2", e.Message);
        Assert.Contains("width 4", e.Message);
        Assert.Contains("metric", Assert.Throws<ArgumentException>(() => MutualNearestNeighbors.Match(ones(2, 4), ones(3, 4), DescriptorMetric.Hamming)).Message);
    }

    // A 3×3 bump (1 at the centre, 0.5 beside, 0.25 diagonal): a round peak that passes the edge test.
    private static void Bump(float[] map, int w, int h, int c, int i, int j, float scale = 1)
    {
        for (int di = -1; di <= 1; di++)
            for (int dj = -1; dj <= 1; dj++)
                map[(c * h + i + di) * w + j + dj] += scale * (di == 0 && dj == 0 ? 1f : di == 0 || dj == 0 ? 0.5f : 0.25f);
    }

    [Fact]
    public void HardDetection_FindsTheKnownPeaksAndRejectsARidge()
    {
        const int c = 3, h = 16, w = 20;
        var v = new float[c * h * w];
        Bump(v, w, h, 0, 3, 4);
        Bump(v, w, h, 2, 10, 15, 2);
        Bump(v, w, h, 1, 12, 5);
        for (int j = 0; j < w; j++) { v[(1 * h + 6) * w + j] = 1; v[(1 * h + 5) * w + j] = 0.5f; v[(1 * h + 7) * w + j] = 0.5f; }  // an edge: det = 0
        using var scope = NewDisposeScope();
        var (ch, rows, cols, scores) = HardDetection.Detect(tensor(v, new long[] { c, h, w }));
        // The ridge's inside has det = 0 and is rejected; its two ends, against D2-Net's zero padding, curve
        // both ways and are kept, as in D2-Net. Order: channel, then row, then column.
        Assert.Equal(new long[] { 0, 1, 1, 1, 2 }, ch.data<long>().ToArray());
        Assert.Equal(new long[] { 3, 6, 6, 12, 10 }, rows.data<long>().ToArray());
        Assert.Equal(new long[] { 4, 0, w - 1, 5, 15 }, cols.data<long>().ToArray());
        Assert.Equal(new[] { 1f, 1f, 1f, 1f, 2f }, scores.data<float>().ToArray());
    }

    [Fact]
    public void NonMaximumSuppression_KeepsWindowMaximaOnly()
    {
        using var scope = NewDisposeScope();
        var s = tensor(new float[] { 0, 1, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0 }, new long[] { 3, 4 });
        var mask = NonMaximumSuppression.Mask(s).to(ScalarType.Int32).data<int>().ToArray();
        // 3 at (1,0) suppresses 1 at (0,1) and 2 at (2,0); zeros whose whole (border-clipped) window is zero tie with it and are kept.
        Assert.Equal(new[] { 0, 0, 0, 1, 1, 0, 0, 1, 0, 0, 1, 1 }, mask);
        Assert.Contains("kernel", Assert.Throws<ArgumentException>(() => NonMaximumSuppression.Mask(s, 2)).Message);
    }

    [Fact]
    public void SoftDetection_PeaksAtTheBumps()
    {
        const int c = 2, h = 12, w = 12;
        var v = new float[c * h * w];
        Bump(v, w, h, 0, 3, 3, 4);
        Bump(v, w, h, 1, 8, 7, 4);
        using var scope = NewDisposeScope();
        var (rows, cols, scores) = SoftDetection.Detect(tensor(v, new long[] { c, h, w }));
        var (_, top) = scores.topk(2);
        var peaks = top.data<long>().ToArray().Select(k => (rows[k].item<long>(), cols[k].item<long>())).Order().ToArray();
        Assert.Equal(new[] { (3L, 3L), (8L, 7L) }, peaks);
    }

    [Fact]
    public void DescriptorSampler_IsExactAtCellsAndLinearBetween()
    {
        using var scope = NewDisposeScope();
        using var gen = new Generator(2);
        var f = randn(new long[] { 6, 5, 7 }, generator: gen);
        var d = DescriptorSampler.Bilinear(f, tensor(new float[] { 2, 3, 2, 3.5f }, new long[] { 2, 2 }), normalize: false);
        Assert.True(d[0].allclose(f.select(1, 2).select(1, 3), 1e-5, 1e-6));
        Assert.True(d[1].allclose((f.select(1, 2).select(1, 3) + f.select(1, 2).select(1, 4)) / 2, 1e-5, 1e-6));
        var n = DescriptorSampler.Bilinear(f, tensor(new float[] { 1, 1 }, new long[] { 1, 2 }));
        Assert.Equal(1.0, n.norm().item<float>(), 5);
        Assert.Contains("positions", Assert.Throws<ArgumentException>(() => DescriptorSampler.Bilinear(f, zeros(3))).Message);
    }

    [Fact]
    public void DenseFeatureExtractor_HonoursTheBudgetAndTheImage()
    {
        torch.manual_seed(4);
        using var model = FeatureNet.Tiny();
        model.eval();
        using var scope = NewDisposeScope();
        var gray = (rand(new long[] { 96, 128 }) * 255).to(ScalarType.Byte);
        foreach (var mode in new[] { DetectionMode.Hard, DetectionMode.Soft })
        {
            var extractor = new DenseFeatureExtractor(model, new ExtractionOptions(mode, Budget: 40));
            using var f = extractor.Extract(gray);
            Assert.InRange(f.Count, 1, 40);
            Assert.Equal(new long[] { f.Count, 128 }, f.Descriptors.shape);
            var xy = f.Keypoints.data<float>().ToArray();
            Assert.All(xy.Where((_, k) => k % 2 == 0), x => Assert.InRange(x, 0f, 127f));
            Assert.All(xy.Where((_, k) => k % 2 == 1), y => Assert.InRange(y, 0f, 95f));
            Assert.True(f.Descriptors.norm(1).allclose(ones(f.Count), 1e-4, 1e-5));
            using var self = MutualNearestNeighbors.Match(f.Descriptors, f.Descriptors);
            Assert.True(self.size(0) >= f.Count * 0.9, $"{self.size(0)} of {f.Count} self-matches");
        }
        Assert.Contains("gray", Assert.Throws<ArgumentException>(() => new DenseFeatureExtractor(model).Extract(zeros(1, 8, 8))).Message);
    }

    [Fact]
    public void DenseFeatureExtractor_ShrinksUpscaledLevelsToTheSideCap()
    {
        torch.manual_seed(5);
        using var model = FeatureNet.Tiny();
        model.eval();
        using var scope = NewDisposeScope();
        var gray = (rand(new long[] { 48, 64 }) * 255).to(ScalarType.Byte);
        LocalFeatureSet With(double[] scales, int cap) => new DenseFeatureExtractor(model, new ExtractionOptions(Budget: 500, Scales: scales, MaxUpscaledSide: cap)).Extract(gray);
        // 64 px × 2 = 128 > 100: the 2× level becomes a 100/64× one; a cap under the image's side leaves scale 1.
        AssertSame(With([0.5, 1, 100 / 64.0], 4096), With([0.5, 1, 2], 100));
        AssertSame(With([0.5, 1], 4096), With([0.5, 1, 2], 50));
        AssertSame(With([1], 4096), With([2], 50));

        static void AssertSame(LocalFeatureSet expected, LocalFeatureSet actual)
        {
            using (expected) using (actual)
            {
                Assert.Equal(expected.Keypoints.shape, actual.Keypoints.shape);
                Assert.True(actual.Keypoints.eq(expected.Keypoints).all().item<bool>());
                Assert.True(actual.Descriptors.eq(expected.Descriptors).all().item<bool>());
            }
        }
    }
}
