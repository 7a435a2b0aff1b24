using TorchSharp;
using static TorchSharp.torch;
using LocalFeat.Train.Data;
using Xunit;

namespace LocalFeat.Tests.Train;

public class DataTests
{
    // torch.equal: same shape and every element equal.
    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    [Fact]
    public void Correspondences_IdentityMapsEveryCellOntoItself()
    {
        using var c = Correspondences.Grid(Homography.Identity(), 64, 64, 64, 64, stride: 8);
        Assert.Equal(64, c.Count);
        Assert.Equal(c.Cells1.to(ScalarType.Float32).data<float>().ToArray(), c.Pos2.data<float>().ToArray());
    }

    [Fact]
    public void Correspondences_FollowTheStrideConvention()
    {
        // x' = 2x: the centre of cell column j is pixel 8j + 3.5, which maps to 16j + 7, i.e. cell (16j + 7 − 3.5)/8 = 2j + 0.4375.
        using var c = Correspondences.Grid([2, 0, 0, 0, 1, 0, 0, 0, 1], 64, 64, 64, 64, stride: 8);
        var cells = c.Cells1.data<long>().ToArray();
        var pos = c.Pos2.data<float>().ToArray();
        Assert.Equal(8 * 4, c.Count);  // columns j with 2j + 0.4375 ≤ 7: j = 0..3, all 8 rows
        for (int k = 0; k < c.Count; k++)
        {
            Assert.Equal(cells[2 * k], pos[2 * k], 6);
            Assert.Equal(2 * cells[2 * k + 1] + 0.4375, pos[2 * k + 1], 6);
        }
    }

    [Fact]
    public void Correspondences_DropCellsThatLeaveImage2()
    {
        // Shift right by one cell (8 px): column 7 leaves the 8-cell grid; columns 0..6 land on j + 1.
        using var c = Correspondences.Grid(Homography.Translation(8, 0), 64, 64, 64, 64, stride: 8);
        Assert.Equal(56, c.Count);
        var cells = c.Cells1.data<long>().ToArray();
        var pos = c.Pos2.data<float>().ToArray();
        for (int k = 0; k < c.Count; k++) Assert.Equal(cells[2 * k + 1] + 1, pos[2 * k + 1], 6);
    }

    [Fact]
    public void Homography_InverseChainAndFourPointFit()
    {
        var h = Homography.Chain(Homography.Translation(5, -3), Homography.Rotation(0.3), Homography.Scale(1.7));
        var i = Homography.Mul(h, Homography.Inverse(h));
        for (int k = 0; k < 9; k++) Assert.Equal(k % 4 == 0 ? 1 : 0, i[k], 12);
        (double, double)[] src = [(0, 0), (10, 0), (10, 10), (0, 10)];
        var p = new[] { 0.7, 0.1, 3, -0.2, 1.1, 4, 0.001, 0.002, 1 };
        var dst = src.Select(s => Homography.Apply(p, s.Item1, s.Item2)).ToArray();
        var fit = Homography.FromPoints(src, dst);
        for (int k = 0; k < 9; k++) Assert.Equal(p[k], fit[k], 9);
    }

    [Fact]
    public void PairSampler_IsDeterministicPerSeed_AndItsHomographyAlignsTheCrops()
    {
        var folder = new ImageFolder(TrainFixture.Photos3WithCorrupt);
        var images = folder.Load(folder.Train, _ => { });
        var settings = new PairSettings(96, 0.8, 1, 0.6, 15, 0.1, 0, 0, 0, 0, 10, 16);  // geometry only: no photometric change
        using var sampler = new PairSampler(images, settings, stride: 8);
        foreach (var (_, t) in images) t.Dispose();
        using var scope = torch.NewDisposeScope();
        using var a = sampler.Sample(42);
        using var b = sampler.Sample(42);
        using var other = sampler.Sample(43);
        Assert.True(Same(a.Image1, b.Image1) && Same(a.Image2, b.Image2));
        Assert.Equal(a.H12, b.H12);
        Assert.False(Same(a.Image1, other.Image1));
        // Without photometric changes, crop 1 at p and crop 2 at H·p show the same photo point: intensities agree
        // up to bilinear resampling, while a wrong homography (identity) gives clearly larger differences.
        double Mismatch(double[] h)
        {
            var i1 = a.Image1[0].data<float>().ToArray();
            var i2 = a.Image2[0].data<float>().ToArray();
            double sum = 0; int n = 0;
            for (int y = 8; y < 88; y += 3)
                for (int x = 8; x < 88; x += 3)
                {
                    var (u, v) = Homography.Apply(h, x, y);
                    int ui = (int)Math.Round(u), vi = (int)Math.Round(v);
                    if (ui < 1 || vi < 1 || ui > 94 || vi > 94) continue;
                    sum += Math.Abs(i1[y * 96 + x] - i2[vi * 96 + ui]); n++;
                }
            return sum / n;
        }
        double good = Mismatch(a.H12), wrong = Mismatch(Homography.Identity());
        Assert.True(good < 0.05 && good < 0.5 * wrong, $"mean |I1(p) − I2(Hp)| = {good:F4}, with identity {wrong:F4}");
    }

    [Fact]
    public void BatchLoader_OnTwoThreads_HandsOutTheBatchesOfEachStepInOrder()
    {
        var folder = new ImageFolder(TrainFixture.Photos3WithCorrupt);
        var images = folder.Load(folder.Train, _ => { });
        using var sampler = new PairSampler(images, new PairSettings(96, 0.8, 1, 0.6, 15, 0.1, 0.15, 0.25, 0.3, 0.02, 10, 16), stride: 8);
        foreach (var (_, t) in images) t.Dispose();
        using (var loader = new BatchLoader(sampler, seed: 5, batchSize: 2, firstStep: 3, threads: 2, prefetch: 3))
        {
            for (long step = 3; step < 7; step++)
            {
                using var got = loader.Take();
                using var want = Batch.Make(sampler, 5, step, 2);  // the same step built here, on this thread
                Assert.Equal(step, got.Step);
                Assert.True(Same(got.Images1, want.Images1) && Same(got.Images2, want.Images2), $"step {step} differs");
                Assert.Equal(want.H12, got.H12);
            }
        }
    }

    [Fact]
    public void ImageFolder_SkipsACorruptImageWithAWarning()
    {
        var folder = new ImageFolder(TrainFixture.Photos3WithCorrupt);
        Assert.Contains(TrainFixture.CorruptName, folder.Train);
        var warnings = new List<string>();
        var images = folder.Load(folder.Train, warnings.Add);
        Assert.Equal(TrainFixture.Photos.Length, images.Count);
        var w = Assert.Single(warnings);
        Assert.Contains($"skipping image '{TrainFixture.CorruptName}'", w);
        Assert.Contains("not a readable image", w);
        foreach (var (_, t) in images) t.Dispose();
    }

    [Fact]
    public void ImageFolder_MissingEmptyOrAllCorrupt_SayWhatIsWrong()
    {
        string missing = Path.Combine(Path.GetTempPath(), "lf-no-such-folder-" + Guid.NewGuid().ToString("N"));
        var e1 = Assert.Throws<DirectoryNotFoundException>(() => new ImageFolder(missing));
        Assert.Contains(missing, e1.Message);
        Assert.Contains("config 'data.images'", e1.Message);

        string empty = TrainFixture.TempDir("empty");
        File.WriteAllText(Path.Combine(empty, "notes.txt"), "no images here");
        Assert.Contains("holds no images", Assert.Throws<InvalidDataException>(() => new ImageFolder(empty)).Message);

        string bad = TrainFixture.TempDir("bad");
        File.WriteAllBytes(Path.Combine(bad, "a.jpg"), [1, 2, 3]);
        var folder = new ImageFolder(bad);
        var warnings = new List<string>();
        var e3 = Assert.Throws<InvalidDataException>(() => folder.Load(folder.Train, warnings.Add));
        Assert.Contains("none of the 1 images", e3.Message);
        Assert.Single(warnings);
    }

    [Fact]
    public void DefaultSplit_HoldsOutTheGraffitiPair()
    {
        var folder = new ImageFolder(TrainFixture.OpenCvData);
        Assert.Contains("graf1.png", folder.HeldOut);
        Assert.Contains("graf3.png", folder.HeldOut);
        Assert.Empty(folder.Train.Intersect(folder.HeldOut));
        Assert.DoesNotContain(folder.Train, f => f.StartsWith("graf", StringComparison.Ordinal));
    }
}
