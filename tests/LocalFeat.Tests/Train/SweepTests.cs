using LocalFeat.Features;
using LocalFeat.Train.Data;
using LocalFeat.Train.Evaluation.Sweeps;
using LocalFeat.Train.Training;
using LocalFeat.Train.Vision;
using OpenCvSharp;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;

namespace LocalFeat.Tests.Train;

public class SweepTests
{
    // A 480×480 "photo": an 8×8-square checkerboard (24-px squares, 7×7 inner corners) centred on a white margin,
    // rendered with 4×4 supersampling so that corners are sub-pixel accurate.
    private static Tensor Checkerboard()
    {
        const int size = 480, square = 24, board = 8 * square, x0 = (size - board) / 2;
        var bytes = new byte[size * size];
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                double sum = 0;
                for (int sy = 0; sy < 4; sy++)
                    for (int sx = 0; sx < 4; sx++)
                    {
                        // Pixel (x, y) is the centre of its cell: samples at x − 0.5 + (k + 0.5)/4.
                        double u = x - 0.5 + (sx + 0.5) / 4 - x0, v = y - 0.5 + (sy + 0.5) / 4 - x0;
                        bool inside = u >= 0 && v >= 0 && u < board && v < board;
                        bool dark = inside && ((int)Math.Floor(u / square) + (int)Math.Floor(v / square)) % 2 == 0;
                        sum += dark ? 30 : 220;
                    }
                bytes[y * size + x] = (byte)Math.Round(sum / 16);
            }
        return torch.tensor(bytes, new long[] { size, size });
    }

    private static Point2f[] Corners(Tensor gray)
    {
        using var m = OpenCv.ToMat(gray);
        Assert.True(Cv2.FindChessboardCorners(m, new OpenCvSharp.Size(7, 7), out var corners), "chessboard not found");
        var refined = Cv2.CornerSubPix(m, corners, new OpenCvSharp.Size(5, 5), new OpenCvSharp.Size(-1, -1), new TermCriteria(CriteriaTypes.Eps | CriteriaTypes.MaxIter, 50, 1e-4));
        return refined;
    }

    // For each image-1 corner mapped by h, the distance to the nearest image-2 corner.
    private static double[] Errors(Point2f[] c1, Point2f[] c2, double[] h) =>
        c1.Select(p =>
        {
            var (x, y) = Homography.Apply(h, p.X, p.Y);
            return c2.Min(q => Math.Sqrt((q.X - x) * (q.X - x) + (q.Y - y) * (q.Y - y)));
        }).ToArray();

    [Theory]
    [InlineData("rotation", 30)]
    [InlineData("rotation", 90)]
    [InlineData("scale", 0.6)]
    [InlineData("tilt", 50)]
    [InlineData("blur", 2)]
    public void SweepHomographies_MapCheckerboardCornersOntoTheWarpedImagesCorners(string sweepName, double step)
    {
        using var scope = torch.NewDisposeScope();
        var sweep = Sweep.ParseList(sweepName).Single();
        var photo = Checkerboard();
        using var pair = SweepPairs.Make("board", photo, sweep, step, 320, 3);
        var c1 = Corners(pair.Gray1);
        var c2 = Corners(pair.Gray2);
        Assert.Equal(49, c1.Length);
        var errors = Errors(c1, c2, pair.H);
        Assert.True(errors.Max() < 0.2, $"{sweep.Label(step)}: corner errors up to {errors.Max():F3} px (mean {errors.Average():F3})");
        // The check resolves the sub-pixel shift: without it, the same corners are off by about 0.8 px.
        var unshifted = Homography.Mul(Homography.Translation(-SweepPairs.Shift.x, -SweepPairs.Shift.y), pair.H);
        Assert.True(Errors(c1, c2, unshifted).Average() > 0.6);
    }

    [Fact]
    public void ScaleSweep_MasksTheBorderWhereTheViewLeavesThePhoto()
    {
        using var scope = torch.NewDisposeScope();
        var photo = torch.full(new long[] { 300, 300 }, 128, ScalarType.Byte);
        using var pair = SweepPairs.Make("flat", photo, Sweep.ParseList("scale").Single(), 0.5, 256, 1);
        // Zoomed out by 2 about the centre, image 2 shows the 300-px photo on 150 px around pixel 127.5 (+ shift): the
        // valid area is that square less the 8-px margin.
        var valid = pair.Valid2!;
        Assert.True(valid[127, 127].item<bool>());
        Assert.False(valid[127, 127 - 75 + 4].item<bool>());   // inside the photo but within 8 px of its edge
        Assert.True(valid[127, 127 - 75 + 12].item<bool>());
        Assert.False(valid[10, 10].item<bool>());               // the black border
        Assert.Equal(0, pair.Gray2[10, 10].item<byte>() / 16);  // black (noise of 2 grey levels at most a few)
    }

    [Fact]
    public void ScalePyramid_MergesAHandMadeTwoLevelInput()
    {
        using var scope = torch.NewDisposeScope();
        // Coarse level (4×4, 2 channels): one peak of 1 at (1,1) in channel 0. Fine level (8×8): a peak of 5 at (2,2),
        // under the coarse detection, and a peak of 3 at (6,5) with channel 1 = 1 there.
        var coarse = torch.zeros(2, 4, 4);
        coarse[0, 1, 1] = 1;
        var fine = torch.zeros(2, 8, 8);
        fine[0, 2, 2] = 5;
        fine[0, 6, 5] = 3;
        fine[1, 6, 5] = 1;
        var (levels, rows, cols, scores, descriptors) = ScalePyramid.Detect([coarse, fine]);
        // Coarse: (1,1) with score 1/1 and descriptor (1, 0). Fine: its map plus the coarse map upsampled (align_corners:
        // fine i ↔ coarse 3i/7), so (2,2) holds 5 + (6/7)² and is the only maximum there, but the coarse detection's
        // mask upsampled by nearest (fine i ↔ coarse ⌊i/2⌋) bans it. (6,5) is beyond the upsampled peak's support
        // (fine rows/cols 1..4): score 3/2, descriptor (3, 1)/√10. Isolated peaks have zero gradient: no refinement step.
        Assert.Equal(new long[] { 0, 1 }, levels.data<long>().ToArray());
        Assert.Equal(new float[] { 1, 6 }, rows.data<float>().ToArray());
        Assert.Equal(new float[] { 1, 5 }, cols.data<float>().ToArray());
        Assert.Equal(new float[] { 1, 1.5f }, scores.data<float>().ToArray());
        var d = descriptors.data<float>().ToArray();
        Assert.Equal(new double[] { 1, 0, 3 / Math.Sqrt(10), 1 / Math.Sqrt(10) }, d.Select(v => Math.Round(v, 6)), new RoundedComparer());

        // Without the coarse level, the fine peak at (2,2) is detected with its own value.
        var (_, r1, c1, s1, _) = ScalePyramid.Detect([fine]);
        Assert.Equal(new float[] { 2, 6 }, r1.data<float>().ToArray());
        Assert.Equal(new float[] { 5, 3 }, s1.data<float>().ToArray());
    }

    private sealed class RoundedComparer : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) < 1e-5;
        public int GetHashCode(double v) => 0;
    }

    [Fact]
    public void MultiscaleExtraction_FindsKeypointsOfEveryLevelInOriginalPixels()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(3);
        using var model = LocalFeat.Models.FeatureNet.Tiny();
        model.eval();
        using var photo = OpenCv.ReadImage(Path.Combine(TrainFixture.OpenCvData, "graf1.png"));
        var gray = photo.narrow(0, 0, 160).narrow(1, 0, 200).contiguous();
        using var single = new DenseFeatureExtractor(model, new ExtractionOptions(Budget: 100000)).Extract(gray);
        using var multi = new DenseFeatureExtractor(model, new ExtractionOptions(Budget: 100000, Scales: [0.5, 1, 2])).Extract(gray);
        Assert.True(multi.Count > single.Count, $"multiscale {multi.Count} ≤ single-scale {single.Count} keypoints");
        var xy = multi.Keypoints;
        Assert.True(xy.select(1, 0).min().item<float>() >= -2 && xy.select(1, 0).max().item<float>() <= 201);
        Assert.True(xy.select(1, 1).min().item<float>() >= -2 && xy.select(1, 1).max().item<float>() <= 161);
        var e = Assert.Throws<ArgumentException>(() => new DenseFeatureExtractor(model, new ExtractionOptions(Scales: [1, 0.5])));
        Assert.Contains("expected Scales ascending in (0, 8], got [1, 0.5]", e.Message);
    }

    [Theory]
    [InlineData("eval.sweeps", "rotaton", "config 'eval.sweeps': unknown sweep 'rotaton', expected a comma-separated list of rotation | scale | tilt | blur | brightness | rotation_short | scale_short | all (or none), got 'rotaton'")]
    [InlineData("eval.scales", "2,1", "config 'eval.scales': expected strictly ascending scales (coarsest first, as D2-Net's pyramid), got '2,1'")]
    [InlineData("eval.scales", "0.5,x", "config 'eval.scales': expected numbers such as 0.5,1,2, 'x' is not one, got '0.5,x'")]
    [InlineData("eval.scales", "0.05,1", "config 'eval.scales': expected every scale in [0.125, 4], got '0.05,1'")]
    [InlineData("eval.sweep_size", "10", "config 'eval.sweep_size': expected an integer in [64, 2048], got 10")]
    [InlineData("eval.sweep_photos", "0", "config 'eval.sweep_photos': expected an integer in [1, 1000], got 0")]
    public void SweepAndScaleSettings_ValidateTheirRanges(string key, string value, string message)
    {
        var c = TrainFixture.Config(TrainFixture.TempDir("cfg"));
        c.Set(key, value);
        Assert.Equal(message, Assert.Throws<ConfigException>(c.Validate).Message);
    }

    [Fact]
    public void SeveralScales_NeedHardDetection()
    {
        var c = TrainFixture.Config(TrainFixture.TempDir("cfg"));
        c.Set("eval.scales", "0.5,1");
        c.Set("eval.detection", "soft");
        Assert.Equal("config 'eval.scales': several scales need eval.detection hard (D2-Net's pyramid), got '0.5,1' with detection soft",
            Assert.Throws<ConfigException>(c.Validate).Message);
        c.Set("eval.sweeps", "all,rotation_short");
        c.Set("eval.detection", "hard");
        c.Validate();
        Assert.Equal(["rotation", "scale", "tilt", "blur", "brightness", "rotation_short"], Sweep.ParseList(c.Eval.Sweeps).Select(s => s.Name));
        Assert.Empty(Sweep.ParseList("none"));
    }

    [Fact]
    public void EvalSweepRotation_OnATinyCheckpoint_WritesTheTableAndThePlot()
    {
        string run = TrainFixture.TempDir("sweep-run");
        var (code, _, err) = ConsoleProcess.Run(["train", "--out", run, "--images", TrainFixture.Photos3WithCorrupt, "--steps", "2", "--no-eval",
            "--set", "data.crop_size=96", "--set", "data.min_correspondences=16", "--set", "run.threads=2"]);
        Assert.True(code == 0, err);
        string outDir = Path.Combine(run, "sweep-eval");
        (code, _, err) = ConsoleProcess.Run(["eval", "--run", run, "--out", outDir, "--sweep", "rotation", "--set", $"data.images={TrainFixture.OpenCvData}",
            "--set", "eval.synthetic_pairs=0", "--set", "eval.sweep_photos=1", "--set", "eval.sweep_size=96"], timeoutS: 300);
        Assert.True(code == 0, err);
        string report = File.ReadAllText(Path.Combine(outDir, "report.md"));
        Assert.Contains("### rotation (`sweep_rotation.png`)", report);
        Assert.Equal(13, report.Split('\n').Count(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^\| \d+°")));  // 0°, 15°, …, 180°
        using var plot = OpenCv.ReadImage(Path.Combine(outDir, "sweep_rotation.png"), color: true);
        Assert.Equal(3 * 480, plot.size(1));  // MMA@3, MMA@1 and H@3px panels
        Assert.DoesNotContain("### scale", report);
    }
}
