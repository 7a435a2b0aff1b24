using TorchSharp;
using static TorchSharp.torch;
using LocalFeat.Train.Vision;
using LocalFeat.Features;
using LocalFeat.Train.Data;
using LocalFeat.Train.Evaluation;
using Xunit;

namespace LocalFeat.Tests.Train;

public class EvalTests
{
    private static FeatureSet Hand((float x, float y)[] points, float[][] descriptors) => new()
    {
        X = points.Select(p => p.x).ToArray(),
        Y = points.Select(p => p.y).ToArray(),
        Scale = points.Select(_ => 1f).ToArray(),
        Score = points.Select(_ => 1f).ToArray(),
        Descriptors = torch.tensor(descriptors.SelectMany(d => d).ToArray(), new long[] { descriptors.Length, descriptors[0].Length }).DetachFromDisposeScope(),
    };

    private static float[] OneHot(int i, int n = 4) => Enumerable.Range(0, n).Select(k => k == i ? 1f : 0f).ToArray();

    [Fact]
    public void MutualNearestAndMma_OnHandMadeKeypoints()
    {
        // H shifts by +10 px in x. Matches i↔i have errors 0, 1.5, 2.5 and 5 px. b[4] lies halfway between a[0]
        // and a[1] in descriptor space: a[0] prefers b[0], so b[4] has no mutual match.
        using var a = Hand([(0, 0), (10, 10), (20, 20), (30, 30)], [OneHot(0), OneHot(1), OneHot(2), OneHot(3)]);
        using var b = Hand([(10, 0), (21.5f, 10), (32.5f, 20), (45, 30), (0, 0)],
            [OneHot(0), OneHot(1), OneHot(2), OneHot(3), [0.5f, 0.5f, 0, 0]]);
        var matches = Metrics.MutualNearest(a, b);
        Assert.Equal(new[] { (0, 0), (1, 1), (2, 2), (3, 3) }, matches);
        var errors = Metrics.ReprojectionErrors(a, b, matches, Homography.Translation(10, 0));
        Assert.Equal(new[] { 0, 1.5, 2.5, 5 }, errors.Select(e => Math.Round(e, 9)));
        var mma = Metrics.MatchingAccuracy(errors);
        Assert.Equal(new[] { 0.25, 0.5, 0.75, 0.75, 1, 1, 1, 1, 1, 1 }, mma);  // thresholds 1..10, error ≤ t counts
        Assert.Equal(new double[10], Metrics.MatchingAccuracy([]));           // no matches: 0, not NaN
    }

    [Fact]
    public void HardDetection_EqualsD2NetsFilterFormulation()
    {
        // D2-Net's HardDetectionModule written out over whole planes (conv2d with its three 3×3 filters).
        using var scope = torch.NewDisposeScope();
        using var gen = new Generator(4);
        var features = torch.randn(new long[] { 16, 20, 24 }, generator: gen);
        long c = 16, h = 20, w = 24;
        var d = features.relu();
        var planes = d.view(c, 1, h, w);
        Tensor Filter(float[] k) => torch.nn.functional.conv2d(planes, torch.tensor(k, new long[] { 1, 1, 3, 3 }), padding: new long[] { 1, 1 }).view(c, h, w);
        var dii = Filter([0, 1, 0, 0, -2, 0, 0, 1, 0]);
        var dij = Filter([0.25f, 0, -0.25f, 0, 0, 0, -0.25f, 0, 0.25f]);
        var djj = Filter([0, 0, 0, 1, -2, 1, 0, 0, 0]);
        var det = dii * djj - dij * dij;
        var tr = dii + djj;
        double thr = (7.2 + 1) * (7.2 + 1) / 7.2;
        var detected = d.eq(d.amax([0], keepdim: true)) & d.eq(torch.nn.functional.max_pool2d(d.unsqueeze(0), 3, stride: 1, padding: 1)[0])
                       & ((tr * tr / det) <= thr) & (det > 0.0) & (d > 0.0);
        var expected = torch.nonzero(detected);  // (channel, row, col), row-major order

        var (channels, rows, cols, scores) = HardDetection.Detect(features, 7.2);
        Assert.Equal(expected.select(1, 0).data<long>().ToArray(), channels.data<long>().ToArray());
        Assert.True(rows.size(0) > 5, $"only {rows.size(0)} detections");
        Assert.Equal(expected.select(1, 1).data<long>().ToArray(), rows.data<long>().ToArray());
        Assert.Equal(expected.select(1, 2).data<long>().ToArray(), cols.data<long>().ToArray());
        Assert.Equal(d.index(expected.select(1, 0), expected.select(1, 1), expected.select(1, 2)).data<float>().ToArray(), scores.data<float>().ToArray());
    }

    [Fact]
    public void Refinement_FindsThePeakOfAQuadratic()
    {
        // f(i, j) = 50 − (i − 5.3)² − 0.5 (j − 7.2)² − 0.2 (i − 5.3)(j − 7.2): central differences and the 3×3
        // Hessian are exact on a quadratic, so one Newton step from the integer maximum (5, 7) lands on (5.3, 7.2).
        var v = new float[12 * 14];
        for (int i = 0; i < 12; i++)
            for (int j = 0; j < 14; j++)
            {
                double a = i - 5.3, b = j - 7.2;
                v[i * 14 + j] = (float)(50 - a * a - 0.5 * b * b - 0.2 * a * b);
            }
        using var scope = torch.NewDisposeScope();
        var f = torch.tensor(v, new long[] { 1, 12, 14 });
        var (r, c, valid) = SubpixelRefinement.Refine(f, torch.tensor(new long[] { 0 }), torch.tensor(new long[] { 5 }), torch.tensor(new long[] { 7 }));
        Assert.Equal(5.3f, r.item<float>(), 4);
        Assert.Equal(7.2f, c.item<float>(), 4);
        Assert.True(valid.item<bool>());
        // From (4, 7) the step is 1.3 rows: more than half a cell, so D2-Net drops the detection.
        var (_, _, far) = SubpixelRefinement.Refine(f, torch.tensor(new long[] { 0 }), torch.tensor(new long[] { 4 }), torch.tensor(new long[] { 7 }));
        Assert.False(far.item<bool>());
    }

    [Fact]
    public void HammingMatching_OnPackedBits()
    {
        // ORB-style uint8 descriptors: a[0] = 0x0F differs from b[0] = 0x0E in 1 bit and from b[1] = 0xF0 in 8.
        static FeatureSet Bits(byte[] d) => new()
        {
            X = d.Select(_ => 0f).ToArray(), Y = d.Select(_ => 0f).ToArray(), Scale = d.Select(_ => 1f).ToArray(), Score = d.Select(_ => 1f).ToArray(),
            Descriptors = torch.tensor(d, new long[] { d.Length, 1 }).DetachFromDisposeScope(), Binary = true,
        };
        using var a = Bits([0x0F, 0xF1]);
        using var b = Bits([0xF0, 0x0E]);
        Assert.Equal(new[] { (0, 1), (1, 0) }, Metrics.MutualNearest(a, b));
    }

    [Fact]
    public void AFlatImage_GivesNoKeypointsNoMatchesAndNoHomography_WithoutFailing()
    {
        // A synthetic held-out pair can be textureless: SIFT and ORB then find nothing (as a zeroed model does), which must not throw.
        using var scope = torch.NewDisposeScope();
        var flat = torch.full(new long[] { 96, 128 }, 128, dtype: ScalarType.Byte);
        using var pair = new EvalPair("flat", flat.alias().DetachFromDisposeScope(), flat.alias().DetachFromDisposeScope(), Homography.Identity());
        using var model = LocalFeat.Models.FeatureNet.Tiny();
        using (torch.no_grad()) foreach (var p in model.parameters()) p.zero_();  // all-zero features: nothing to detect
        var methods = Evaluator.Baselines(100).Append(new NetExtractor(model, new ExtractionOptions(Budget: 100)));
        foreach (var method in methods)
        {
            var (r, matches, a, b) = Evaluator.EvaluatePair(method, pair, 3);
            using (a) using (b)
            {
                Assert.Equal(0, r.Keypoints1);
                Assert.Empty(matches);
                Assert.Equal(new double[10], r.Mma);
                Assert.Equal(double.PositiveInfinity, r.CornerError);
            }
        }
    }

    [Fact]
    public void CornerError_MatchesHandComputation()
    {
        Assert.Equal(1.0, Homography.CornerError(Homography.Translation(1, 0), Homography.Identity(), 10, 10), 12);
        // Scale 2 about the origin on a 10×10 image: corners move 0, 10, 10, √200.
        Assert.Equal((20 + Math.Sqrt(200)) / 4, Homography.CornerError(Homography.Scale(2), Homography.Identity(), 10, 10), 12);
    }

    [Fact]
    public void SiftOnShiftedCropsOfOnePhoto_MatchesExactlyAndRecoversTheHomography()
    {
        // Two windows of one photo, 23 px and 11 px apart: a point at p in crop 1 is at p − (23, 11) in crop 2, exactly.
        using var scope = torch.NewDisposeScope();
        var photo = OpenCv.ReadImage(Path.Combine(TrainFixture.OpenCvData, "graf1.png"));
        var crop1 = photo.narrow(0, 100, 320).narrow(1, 150, 400).contiguous();
        var crop2 = photo.narrow(0, 111, 320).narrow(1, 173, 400).contiguous();
        var truth = Homography.Translation(-23, -11);
        using var pair = new EvalPair("shift", crop1.alias().DetachFromDisposeScope(), crop2.alias().DetachFromDisposeScope(), truth);
        var (r, matches, a, b) = Evaluator.EvaluatePair(new ClassicalExtractor(ClassicalFeature.Sift, 1000), pair, 3);
        using (a) using (b)
        {
            Assert.True(r.Matches > 100, $"only {r.Matches} matches");
            // Same pixels around each keypoint: SIFT finds it again at the same place (sub-pixel), so nearly every
            // mutual match is right within 1 px; RANSAC then recovers the translation.
            Assert.True(r.Mma[0] > 0.9, $"MMA@1 = {r.Mma[0]:F3}");
            Assert.True(r.Mma[9] >= r.Mma[0]);
            Assert.True(r.CornerError < 0.5, $"corner error {r.CornerError:F3} px");
        }
        var summary = SetSummary.Of("shift", "SIFT", [r]);
        Assert.Equal([1.0, 1.0, 1.0], summary.HomographyAccuracy);
    }

    [Fact]
    public void GraffitiGroundTruth_IsReadFromTheOpenCvFile()
    {
        using var graf = PairSets.Graf(TrainFixture.OpenCvData);
        Assert.NotNull(graf);
        // H1to3p.xml, first and last rows as printed in the file.
        Assert.Equal(7.6285898e-01, graf!.H[0], 9);
        Assert.Equal(2.2567123e+02, graf.H[2], 6);
        Assert.Equal(3.4663091e-04, graf.H[6], 12);
        Assert.Equal(1.0, graf.H[8], 12);
        Assert.Equal(new long[] { 640, 800 }, graf.Gray1.shape);
    }

    [Fact]
    public void HPatchesFolder_PairsOneWithEachImageThatHasAHomography()
    {
        string root = TrainFixture.TempDir("hpatches");
        string seq = Path.Combine(root, "v_test");
        Directory.CreateDirectory(seq);
        using (var photo = OpenCv.ReadImage(Path.Combine(TrainFixture.OpenCvData, "graf1.png"), color: true))
        {
            using var a = photo.narrow(0, 0, 120).narrow(1, 0, 160).contiguous();
            using var b = photo.narrow(0, 4, 120).narrow(1, 6, 160).contiguous();
            OpenCv.WriteImage(Path.Combine(seq, "1.ppm"), a);
            OpenCv.WriteImage(Path.Combine(seq, "2.ppm"), b);
        }
        File.WriteAllText(Path.Combine(seq, "H_1_2"), "1 0 -6\n0 1 -4\n0 0 1\n");
        Directory.CreateDirectory(Path.Combine(root, "not_a_sequence"));
        var warnings = new List<string>();
        var pairs = PairSets.HPatches(root, warnings.Add);
        var p = Assert.Single(pairs);
        using (p)
        {
            Assert.Equal("v_test 1→2", p.Name);
            Assert.Equal([1, 0, -6, 0, 1, -4, 0, 0, 1], p.H);
            Assert.Equal(new long[] { 120, 160 }, p.Gray1.shape);  // read as grey
        }
        Assert.Contains(warnings, w => w.Contains("not_a_sequence"));
        Assert.Equal(5, warnings.Count);  // the folder without 1.ppm, and 3..6 missing
        Assert.Throws<DirectoryNotFoundException>(() => PairSets.HPatches(Path.Combine(root, "nope"), _ => { }));
    }

    [Fact]
    public void Evaluator_WritesReportAndPlots()
    {
        string dir = TrainFixture.TempDir("eval");
        using var scope = torch.NewDisposeScope();
        var photo = OpenCv.ReadImage(Path.Combine(TrainFixture.OpenCvData, "graf1.png"));
        using var pair = new EvalPair("shift", photo.narrow(0, 0, 200).narrow(1, 0, 240).contiguous().DetachFromDisposeScope(),
            photo.narrow(0, 5, 200).narrow(1, 7, 240).contiguous().DetachFromDisposeScope(), Homography.Translation(-7, -5));
        var summaries = Evaluator.Run(Evaluator.Baselines(500), [(PairSets.GrafSet, [pair])], new Evaluator.Options(dir, "test header", 3), _ => { });
        Assert.Equal(["SIFT", "ORB"], summaries.Select(s => s.Method));
        string report = File.ReadAllText(Path.Combine(dir, Evaluator.ReportFile));
        Assert.Contains("test header", report);
        Assert.Contains("| SIFT |", report);
        Assert.Contains("| ORB |", report);
        using var mma = OpenCv.ReadImage(Path.Combine(dir, Evaluator.MmaPlotFile), color: true);
        using var viz = OpenCv.ReadImage(Path.Combine(dir, Evaluator.MatchesFile), color: true);
        Assert.Equal(3, mma.size(2));
        Assert.Equal(480, viz.size(1));  // the two 240-px images side by side
    }
}
