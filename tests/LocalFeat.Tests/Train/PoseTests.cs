using System.Globalization;
using LocalFeat.Train.Evaluation;
using LocalFeat.Train.Evaluation.Pose;
using LocalFeat.Train.Training;
using LocalFeat.Train.Vision;
using TorchSharp;
using Xunit;

namespace LocalFeat.Tests.Train;

/// <summary>Issue 12 item 5: relative-pose evaluation (SuperGlue's protocol) on exact geometry, numpy's pose_auc, bad pairs files, rendered scenes.</summary>
public class PoseTests
{
    // Rodrigues' formula: the rotation by `degrees` about `axis` (row-major 3×3).
    internal static double[] AxisAngle(double[] axis, double degrees)
    {
        double n = Math.Sqrt(axis.Sum(v => v * v)), x = axis[0] / n, y = axis[1] / n, z = axis[2] / n;
        double a = degrees * Math.PI / 180, c = Math.Cos(a), s = Math.Sin(a), C = 1 - c;
        return [c + x * x * C, x * y * C - z * s, x * z * C + y * s,
                y * x * C + z * s, c + y * y * C, y * z * C - x * s,
                z * x * C - y * s, z * y * C + x * s, c + z * z * C];
    }

    private static (double u, double v) Project(double[] k, double[] p) => (k[0] * p[0] / p[2] + k[1] * p[1] / p[2] + k[2], k[4] * p[1] / p[2] + k[5]);

    [Fact]
    public void ExactCorrespondences_GiveZeroPoseError_AndFullAuc()
    {
        // 3-D points in front of two cameras with different intrinsics and known poses, projected without noise.
        double[] k0 = [500, 0, 320, 0, 510, 240, 0, 0, 1], k1 = [620, 0, 300, 0, 615, 250, 0, 0, 1];
        var rng = new Random(12);
        var errors = new List<double>();
        for (int pose = 0; pose < 6; pose++)
        {
            double[] axis = [rng.NextDouble() - 0.5, rng.NextDouble() - 0.5, rng.NextDouble() - 0.5];
            var r = AxisAngle(axis, 5 + 15 * rng.NextDouble());
            double[] t = [rng.NextDouble() - 0.5, rng.NextDouble() - 0.5, rng.NextDouble() - 0.5];
            var p0 = new List<double>();
            var p1 = new List<double>();
            while (p0.Count < 2 * 150)
            {
                double[] x = [6 * rng.NextDouble() - 3, 4 * rng.NextDouble() - 2, 4 + 6 * rng.NextDouble()];
                var y = PoseCameras.Apply(r, x);
                y = [y[0] + t[0], y[1] + t[1], y[2] + t[2]];
                if (y[2] < 1) continue;
                var (u0, v0) = Project(k0, x);
                var (u1, v1) = Project(k1, y);
                p0.AddRange([u0, v0]);
                p1.AddRange([u1, v1]);
            }
            var est = PoseEstimation.Estimate(p0.ToArray(), p1.ToArray(), k0, k1);
            Assert.NotNull(est);
            var (er, et) = PoseError.Of(PoseCameras.Compose(r, t), est!.R, est.T);
            Assert.True(er < 0.01 && et < 0.01, $"pose {pose}: R error {er}°, t error {et}°");
            Assert.Equal(150, est.InlierCount);
            errors.Add(Math.Max(er, et));
        }
        var auc = PoseAuc.Compute(errors);
        Assert.All(auc, a => Assert.True(a > 0.998, $"AUC {a}"));
        // Fewer than five matches: no pose (SuperGlue: estimate_pose returns None, an infinite error).
        Assert.Null(PoseEstimation.Estimate([1, 2, 3, 4], [1, 2, 3, 4], k0, k1));
    }

    [Fact]
    public void KnownPerturbations_GiveTheExpectedErrors()
    {
        var r = AxisAngle([0.2, 1, -0.3], 20);
        double[] t = [0.3, -0.1, 0.9];
        var truth = PoseCameras.Compose(r, t);
        // R turned a further 7° about any axis: 7° rotation error; t untouched: 0°.
        var turned = LocalFeat.Train.Data.Homography.Mul(AxisAngle([1, -2, 0.5], 7), r);
        var (er, et) = PoseError.Of(truth, turned, t);
        Assert.Equal(7, er, 9);
        Assert.Equal(0, et, 6);
        // t flipped or scaled: the essential matrix fixes its direction only up to sign and scale.
        Assert.Equal(0, PoseError.Translation([-0.3, 0.1, -0.9], t), 6);
        Assert.Equal(0, PoseError.Translation([0.6, -0.2, 1.8], t), 6);
        // t turned by 30° (about an axis perpendicular to it): 30°; by 170°: 180 − 170 = 10°.
        double[] perpendicular = [0.9, 0, -0.3];  // ⟂ t
        Assert.Equal(30, PoseError.Translation(PoseCameras.Apply(AxisAngle(perpendicular, 30), t), t), 9);
        Assert.Equal(10, PoseError.Translation(PoseCameras.Apply(AxisAngle(perpendicular, 170), t), t), 9);
        // The pose error is the larger of the two.
        Assert.Equal(7, new PosePairResult("p", 0, 0, 0, 0, er, et).Error, 9);
    }

    [Fact]
    public void PoseAuc_EqualsSuperGluesNumpyDefinition()
    {
        double[][] lists =
        [
            [0.5, 2, 2, 3.7, 4.99, 5, 7.5, 12, 19.9, 25, double.PositiveInfinity, 1000],
            [0.1, 0.2, 0.3],
            [6, 11, 21],
            [double.PositiveInfinity, double.PositiveInfinity],
            [0, 0, 0, 10],
        ];
        string Py(double v) => double.IsPositiveInfinity(v) ? "np.inf" : v.ToString("R", CultureInfo.InvariantCulture);
        // SuperGlue's models/utils.py pose_auc, written out for numpy.
        string script = """
            import numpy as np
            def pose_auc(errors, thresholds):
                sort_idx = np.argsort(errors)
                errors = np.array(errors.copy())[sort_idx]
                recall = (np.arange(len(errors)) + 1) / len(errors)
                errors = np.r_[0., errors]
                recall = np.r_[0., recall]
                aucs = []
                for t in thresholds:
                    last_index = np.searchsorted(errors, t)
                    r = np.r_[recall[:last_index], recall[last_index-1]]
                    e = np.r_[errors[:last_index], t]
                    aucs.append(np.trapz(r, x=e)/t)
                return aucs
            """ + "\n" + string.Join("\n", lists.Select(l => $"print(' '.join(repr(float(a)) for a in pose_auc(np.array([{string.Join(", ", l.Select(Py))}]), [5, 10, 20])))"));
        var expected = TrainFixture.Python(script).Split('\n').Select(line => line.Split(' ').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();
        Assert.Equal(lists.Length, expected.Length);
        for (int i = 0; i < lists.Length; i++)
        {
            var got = PoseAuc.Compute(lists[i]);
            for (int k = 0; k < 3; k++) Assert.True(Math.Abs(got[k] - expected[i][k]) < 1e-12, $"list {i}, threshold {PoseAuc.Thresholds[k]}: {got[k]} vs numpy {expected[i][k]}");
        }
        Assert.Equal(new double[3], PoseAuc.Compute([]));
        Assert.Equal(PoseAuc.Compute([double.PositiveInfinity, 3]), PoseAuc.Compute([double.NaN, 3]));  // NaN counts as a failure
    }

    private const string Good = "a.png b.png 0 0 500 0 320 0 500 240 0 0 1 500 0 320 0 500 240 0 0 1 1 0 0 0.5 0 1 0 0 0 0 1 0.1 0 0 0 1";

    [Theory]
    [InlineData("a.png b.png 0 0 500 0 320", "expected 38 whitespace-separated fields (name0 name1 rot0 rot1 K0[9] K1[9] T_0to1[16]), got 7")]
    [InlineData("a.png b.png 0 0 500 0 abc 0 500 240 0 0 1 500 0 320 0 500 240 0 0 1 1 0 0 0.5 0 1 0 0 0 0 1 0.1 0 0 0 1", "field 7 (K0[2]): expected a finite number, got 'abc'")]
    [InlineData("a.png b.png 4 0 500 0 320 0 500 240 0 0 1 500 0 320 0 500 240 0 0 1 1 0 0 0.5 0 1 0 0 0 0 1 0.1 0 0 0 1", "field 3 (rot0): expected a quarter-turn count 0, 1, 2 or 3, got '4'")]
    [InlineData("a.png b.png 0 0 500 0 320 0 500 240 0 0 1 0 0 320 0 500 240 0 0 1 1 0 0 0.5 0 1 0 0 0 0 1 0.1 0 0 0 1", "K1: expected a pinhole matrix")]
    [InlineData("a.png b.png 0 0 500 0 320 0 500 240 0 0 1 500 0 320 0 500 240 0 0 1 1 0 0 0.5 0 1 0 0 0 0 1 0.1 0 0 1 1", "T_0to1: expected the bottom row 0 0 0 1, got 0 0 1 1")]
    [InlineData("a.png b.png 0 0 500 0 320 0 500 240 0 0 1 500 0 320 0 500 240 0 0 1 1 0 0 0.5 0 2 0 0 0 0 1 0.1 0 0 0 1", "T_0to1: expected a rotation in its top-left 3×3")]
    [InlineData("a.png b.png 0 0 500 0 320 0 500 240 0 0 1 500 0 320 0 500 240 0 0 1 1 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1", "the translation is zero")]
    [InlineData("a.png b.png 0 0 500 0 320 0 500 240 0 0 1 500 0 320 0 500 240 0 0 1 1 0 0 0.5 0 1 0 0 0 0 1 0.1 0 0 0 NaN", "field 38 (T_0to1[15]): expected a finite number, got 'NaN'")]
    public void AMalformedLine_IsRejectedNamingTheLineAndTheProblem(string bad, string expected)
    {
        string dir = TrainFixture.TempDir("posebad"), path = Path.Combine(dir, "pairs.txt");
        File.WriteAllText(path, $"{Good}\n# a comment line\n\n{bad}\n{Good}\n");
        var e = Assert.Throws<InvalidDataException>(() => PosePairsFile.Read(path));
        Assert.StartsWith($"pose pairs '{path}' line 4: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void PairsFile_GoodLines_EmptyFile_AndMissingImages()
    {
        string dir = TrainFixture.TempDir("posegood"), path = Path.Combine(dir, "pairs.txt");
        File.WriteAllText(path, $"{Good}\n\n{Good.Replace("a.png", "c.png")}\n");
        var lines = PosePairsFile.Read(path);
        Assert.Equal([1, 3], lines.Select(l => l.LineNumber));
        Assert.Equal("c.png", lines[1].Name0);
        Assert.Equal([500, 0, 320, 0, 500, 240, 0, 0, 1], lines[0].K1);
        Assert.Equal(0.5, lines[0].T0to1[3]);
        Assert.Equal(0.1, lines[0].T0to1[11]);
        // A line of SuperGlue's assets/scannet_sample_pairs_with_gt.txt: its 5-decimal rotations pass the rigidity check.
        File.WriteAllText(path, "scene0711_00_frame-001680.jpg scene0711_00_frame-001995.jpg 0 0 1163.45     0.     653.626    0.    1164.79   481.6      0.       0.       1.    " +
            "1163.45     0.     653.626    0.    1164.79   481.6      0.       0.       1.     0.78593 -0.35128  0.50884 -1.51061  0.39215  0.91944  0.02904 -0.05367 " +
            "-0.47805  0.17672  0.86037  0.056    0.       0.       0.       1.\n");
        var scannet = Assert.Single(PosePairsFile.Read(path));
        Assert.Equal(("scene0711_00_frame-001680.jpg", 1163.45, 481.6, -1.51061, 0.056), (scannet.Name0, scannet.K0[0], scannet.K1[5], scannet.T0to1[3], scannet.T0to1[11]));
        File.WriteAllText(path, $"{Good}\n");
        var missing = Assert.Throws<FileNotFoundException>(() => PosePairsFile.Open(path, null, PoseResize.None, _ => { }));
        Assert.Contains($"line 1: image '{Path.Combine(dir, "a.png")}' not found", missing.Message);
        File.WriteAllText(path, "# nothing\n");
        Assert.Contains("no pairs", Assert.Throws<InvalidDataException>(() => PosePairsFile.Read(path)).Message);
        Assert.Throws<FileNotFoundException>(() => PosePairsFile.Read(Path.Combine(dir, "none.txt")));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void QuarterTurns_MoveProjectionsAndPixelsAsNumpyRot90(int rot)
    {
        // numpy's rot90(m, k) on an H×W array (counter-clockwise): the pixel at column u, row v moves to
        // k=1: (v, W−1−u); k=2: (W−1−u, H−1−v); k=3: (H−1−v, u).
        const int w = 40, h = 30;
        double[] k = [50, 0, 18.5, 0, 52, 13.25, 0, 0, 1];
        int u = 31, v = 7;
        var (eu, ev) = rot switch { 1 => (v, w - 1 - u), 2 => (w - 1 - u, h - 1 - v), _ => (h - 1 - v, u) };
        // A point seen at (u, v), at depth 3.
        double[] x = [(u - k[2]) / k[0] * 3, (v - k[5]) / k[4] * 3, 3];
        var (pu, pv) = Project(PoseCameras.Rotate(k, w, h, rot), PoseCameras.Apply(PoseCameras.InPlane(rot), x));
        Assert.Equal(eu, pu, 9);
        Assert.Equal(ev, pv, 9);
        // The image turned the same way: its one lit pixel lands there.
        using var scope = torch.NewDisposeScope();
        var img = torch.zeros(new long[] { h, w }, torch.ScalarType.Byte);
        img[v, u] = torch.tensor((byte)255);
        var turned = OpenCv.Rot90(img, rot);
        Assert.Equal(rot % 2 == 1 ? new long[] { w, h } : new long[] { h, w }, turned.shape);
        Assert.Equal(255, turned[ev, eu].item<byte>());
        // A pose turned at both ends: a point's projections follow both images.
        var r = AxisAngle([0.1, 1, 0], 10);
        double[] t = [0.4, 0, 0.1];
        var turnedPose = PoseCameras.RotatePose(PoseCameras.Compose(r, t), rot, 0);
        var (r2, t2) = PoseCameras.Split(turnedPose);
        var y = PoseCameras.Apply(r, x);
        var y2 = PoseCameras.Apply(r2, PoseCameras.Apply(PoseCameras.InPlane(rot), x));
        for (int i = 0; i < 3; i++) Assert.Equal(y[i] + t[i], y2[i] + t2[i], 9);
    }

    [Fact]
    public void PoseResize_ParsesSuperGluesSizes_AndRejectsOthersNamingTheKey()
    {
        Assert.Equal((640, 480), PoseResize.Parse("640x480").Apply(1296, 968));
        Assert.Equal((640, 478), PoseResize.Parse("640").Apply(1296, 968));  // 968·640/1296 = 478.02
        Assert.Equal((1296, 968), PoseResize.Parse("none").Apply(1296, 968));
        foreach (var bad in new[] { "640x", "0", "abc", "10x480", "-5" })
        {
            var c = new TrainConfig();
            c.Set("eval.pose_resize", bad);
            var e = Assert.Throws<ConfigException>(c.Validate);
            Assert.Equal($"config 'eval.pose_resize': expected \"WxH\" (exact size), \"N\" (longer side) with sides in [16, 16384], or \"none\", got '{bad}'", e.Message);
        }
        var d = new TrainConfig();
        d.Set("eval.pose_threshold", "0");
        Assert.Equal("config 'eval.pose_threshold': expected a number > 0, got 0", Assert.Throws<ConfigException>(d.Validate).Message);
        d = new TrainConfig();
        d.Set("eval.synthetic_pose_pairs", "-1");
        Assert.Equal("config 'eval.synthetic_pose_pairs': expected an integer ≥ 0, got -1", Assert.Throws<ConfigException>(d.Validate).Message);
    }

    /// <summary>The python3-opencv scene of scripts/fixtures/make_pose_pairs.py, rendered once per test run: its pairs file (read-only).</summary>
    internal static string RenderedRoom => Room.Value;

    private static readonly Lazy<string> Room = new(() =>
    {
        string dir = TrainFixture.TempDir("poseroom");
        string script = Path.Combine(AppContext.BaseDirectory, "Fixtures", "make_pose_pairs.py");
        string count = TrainFixture.Python($"import runpy, sys; sys.argv = ['make_pose_pairs.py', {Quote(dir)}, {Quote(TrainFixture.OpenCvData)}]; runpy.run_path({Quote(script)}, run_name='__main__')");
        Assert.Equal("6", count);
        return Path.Combine(dir, "pairs.txt");
    });

    private static string Quote(string s) => "'" + s.Replace("\\", "\\\\").Replace("'", "\\'") + "'";

    [Fact]
    public void RenderedRoom_IsReadBackWithTurnsAndResize_AndSiftRecoversEveryPose()
    {
        string pairs = RenderedRoom;
        var set = PosePairsFile.Open(pairs, null, PoseResize.Parse("480"), _ => { });
        var loaded = set.Pairs.ToList();
        Assert.Equal(6, set.Count);
        // Pair 5 (line 5): image 0 stored 640×480, resized to 480×360 (K·0.75), then turned a quarter: 360 wide, 480 high.
        var turned = loaded[4];
        Assert.Equal(new long[] { 480, 360 }, turned.Gray0.shape);
        Assert.Equal(new long[] { 360, 480 }, turned.Gray1.shape);
        Assert.Equal([390, 0, 239.5 * 0.75, 0, 390, 480 - 1 - 319.5 * 0.75, 0, 0, 1], turned.K0.Select(v => Math.Round(v, 9)));
        Assert.Equal([390, 0, 319.5 * 0.75, 0, 390, 239.5 * 0.75, 0, 0, 1], turned.K1.Select(v => Math.Round(v, 9)));

        string outDir = TrainFixture.TempDir("poseroom-out");
        File.WriteAllText(Path.Combine(outDir, Evaluator.ReportFile), "# LocalFeat evaluation\n");
        var logs = new List<string>();
        var summaries = PoseEvaluator.Run([new ClassicalExtractor(ClassicalFeature.Sift, 1000)], [PoseSet.Of("rendered room", loaded)], outDir, 1, logs.Add);
        Assert.Equal(["SIFT"], summaries.Select(s => s.Method));
        var sift = summaries[0];
        Assert.Equal(6, sift.Pairs);
        Assert.All(sift.Errors, e => Assert.True(e < 2, $"SIFT pose errors {string.Join(", ", sift.Errors)}°"));
        Assert.True(sift.Auc[0] > 0.7 && sift.Auc[2] > 0.85, $"SIFT AUC@5/10/20 {string.Join(", ", sift.Auc)}");
        Assert.InRange(sift.InlierRatio, 0.5, 1);
        string report = File.ReadAllText(Path.Combine(outDir, Evaluator.ReportFile));
        Assert.StartsWith("# LocalFeat evaluation\n## Relative pose", report);  // appended to the homography report
        Assert.Contains("### rendered room (6 pairs)", report);
        Assert.Contains("| SIFT | ", report);
        using var plot = OpenCv.ReadImage(Path.Combine(outDir, PoseEvaluator.PlotFile), color: true);
        Assert.Equal(3, plot.size(2));
    }
}
