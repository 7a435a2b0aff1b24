using LocalFeat.Train.Data;
using LocalFeat.Train.Data.Scenes;
using LocalFeat.Train.Settings;
using LocalFeat.Train.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LocalFeat.Tests.Train;

/// <summary>Synthetic 3-D scenes: rendering, exact depth, correspondences from depth and pose, occlusion, determinism.</summary>
[Collection(SerialCollection.Name)]  // the end-to-end run sets the process-wide torch seed and threads
public class SceneTests
{
    private const int S = 96;

    private static Texture Photo()
    {
        using var scope = torch.NewDisposeScope();
        var gray = LocalFeat.Train.Vision.OpenCv.ReadImage(Path.Combine(TrainFixture.OpenCvData, "messi5.jpg"));
        return Texture.FromTensor(gray.to(ScalarType.Float32).div(255.0), "messi5.jpg");
    }

    private static ScenePlane Plane(Texture tex, Vec3 origin, Vec3 normal, double half = double.PositiveInfinity, double ppu = 40)
    {
        var n = normal.Normalized();
        var u = new Vec3(0, 1, 0).Cross(n).Normalized();
        var v = n.Cross(u);
        return new ScenePlane(origin, u, v, half, half, tex, tex.Width / 2.0, tex.Height / 2.0, ppu);
    }

    private static PinholeCamera Camera2(Vec3 centre, Vec3 axis, double deg, double f = 110) =>
        new(f, f * 1.02, (S - 1) / 2.0 + 1.5, (S - 1) / 2.0 - 2, Rotation3.AxisAngle(axis, deg * Math.PI / 180), centre);

    private static double[] Mat3(double[,] m) => [m[0, 0], m[0, 1], m[0, 2], m[1, 0], m[1, 1], m[1, 2], m[2, 0], m[2, 1], m[2, 2]];

    [Fact]
    public void FrontoParallelPlane_RendersTheImageOfTheHomographyPath()
    {
        var tex = Photo();
        var plane = new ScenePlane(new Vec3(0, 0, 4), new Vec3(1, 0, 0), new Vec3(0, 1, 0), double.PositiveInfinity, double.PositiveInfinity,
            tex, tex.Width / 2.0, tex.Height / 2.0, 60);
        var cam2 = Camera2(new Vec3(0.3, -0.1, 0.2), new Vec3(0.2, 1, 0.1), 6);
        var (img, depth) = PlaneSceneRenderer.Render([plane], cam2, S, S);

        // Texture pixel (tx, ty) is plane point O + (tx − cx)/ppu·U + (ty − cy)/ppu·V; view 2 sees it at K2·R2·(X − C2):
        // a homography texel → pixel. The homography path warps with grid_sample (bilinear, align_corners) through its inverse.
        var k2 = cam2.K;
        var r = cam2.R;
        var o = plane.Origin - cam2.C - (1 / plane.PixelsPerUnit) * (plane.TexCx * plane.U + plane.TexCy * plane.V);
        var cols = new[] { (1 / plane.PixelsPerUnit) * plane.U, (1 / plane.PixelsPerUnit) * plane.V, o };
        var m = new double[3, 3];
        for (int c = 0; c < 3; c++)
        {
            var rc = Rotation3.Apply(r, cols[c]);
            m[0, c] = k2[0] * rc.X + k2[2] * rc.Z;
            m[1, c] = k2[4] * rc.Y + k2[5] * rc.Z;
            m[2, c] = rc.Z;
        }
        var pixelToTexel = Homography.Inverse(Mat3(m));
        using var scope = torch.NewDisposeScope();
        var grid = new float[S * S * 2];
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
            {
                var (tx, ty) = Homography.Apply(pixelToTexel, x, y);
                grid[2 * (y * S + x)] = (float)(tx * 2 / (tex.Width - 1) - 1);
                grid[2 * (y * S + x) + 1] = (float)(ty * 2 / (tex.Height - 1) - 1);
            }
        var photo = torch.tensor(tex.Values, new long[] { 1, 1, tex.Height, tex.Width });
        var want = F.grid_sample(photo, torch.tensor(grid, new long[] { 1, S, S, 2 }), align_corners: true).view(S * S).data<float>().ToArray();
        double worst = 0;
        for (int i = 0; i < S * S; i++) worst = Math.Max(worst, Math.Abs(want[i] - img[i]));
        Assert.True(worst < 2e-4, $"largest |scene − homography warp| = {worst:G3}");
        // Every pixel sees the plane, at depth = the plane's z in camera 2's frame along the ray.
        Assert.All(depth.Values, z => Assert.True(z > 0));
    }

    [Fact]
    public void PlaneDepthMaps_AreExact()
    {
        var tex = Photo();
        var cam1 = PinholeCamera.AtOrigin(100, (S - 1) / 2.0, (S - 1) / 2.0);
        // Fronto-parallel: every depth is the plane's distance.
        var front = Plane(tex, new Vec3(0, 0, 3.25), new Vec3(0, 0, -1));
        var (_, d0) = PlaneSceneRenderer.Render([front], cam1, S, S);
        Assert.All(d0.Values, z => Assert.Equal(3.25f, z));
        // Tilted, from a moved camera: each pixel back-projected with its depth lies on the plane.
        var normal = new Vec3(0.3, -0.4, -1).Normalized();
        var tilted = Plane(tex, new Vec3(0.2, -0.1, 5), normal);
        var cam2 = Camera2(new Vec3(-0.4, 0.2, 0.1), new Vec3(1, 0.3, 0), 8);
        foreach (var cam in new[] { cam1, cam2 })
        {
            var (_, d) = PlaneSceneRenderer.Render([tilted], cam, S, S);
            double worst = 0;
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++)
                {
                    var pc = cam.BackProject(x, y, d.Values[y * S + x]);
                    var world = cam.C + Rotation3.ApplyTransposed(cam.R, pc);
                    worst = Math.Max(worst, Math.Abs(normal.Dot(world - tilted.Origin)));
                }
            Assert.True(worst < 1e-5, $"largest distance of a back-projected pixel from the plane: {worst:G3}");
        }
    }

    [Fact]
    public void DepthAndPoseCorrespondences_AgreeWithThePlanesAnalyticHomography()
    {
        var tex = Photo();
        var cam1 = PinholeCamera.AtOrigin(105, (S - 1) / 2.0, (S - 1) / 2.0);
        var cam2 = Camera2(new Vec3(0.35, 0.1, -0.15), new Vec3(0.1, 1, 0.2), 7);
        var n = new Vec3(0.25, 0.2, -1).Normalized();
        var origin = new Vec3(0, 0, 4);
        var plane = Plane(tex, origin, n);
        var (_, depth1) = PlaneSceneRenderer.Render([plane], cam1, S, S);
        var (_, depth2) = PlaneSceneRenderer.Render([plane], cam2, S, S);
        var t12 = PinholeCamera.RelativePose(cam1, cam2);
        using var got = DepthCorrespondences.Compute(new SceneView(cam1, depth1), new SceneView(cam2, depth2), t12, stride: 8, tolerance: 0.01);

        // Plane nᵀX + d = 0 in camera 1's frame (d = −n·O): H = K2 (R − t nᵀ/d) K1⁻¹.
        double d = -n.Dot(origin);
        double[] nn = [n.X, n.Y, n.Z];
        double[] t = [t12[3], t12[7], t12[11]];
        var a = new double[9];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                a[3 * i + j] = t12[4 * i + j] - t[i] * nn[j] / d;
        var h = Homography.Chain(cam2.K, a, Homography.Inverse(cam1.K));
        using var want = Correspondences.Grid(h, S, S, S, S, stride: 8);

        Assert.True(want.Count > 60, $"only {want.Count} analytic correspondences: the test scene is too weak");
        Assert.Equal(want.Cells1.data<long>().ToArray(), got.Matches.Cells1.data<long>().ToArray());
        var pw = want.Pos2.data<float>().ToArray();
        var pg = got.Matches.Pos2.data<float>().ToArray();
        double worst = pw.Zip(pg, (x, y) => Math.Abs(x - y)).Max();
        Assert.True(worst < 2e-3, $"largest position difference {worst:G3} cells");
        // Points1 are image-1 cells in camera 2's frame: each projects onto its correspondence.
        var p1 = got.Points1.data<float>().ToArray();
        var cells = got.Matches.Cells1.data<long>().ToArray();
        for (int k = 0; k < got.Matches.Count; k++)
        {
            long at = 3 * (cells[2 * k] * (S / 8) + cells[2 * k + 1]);
            var (x2, y2) = cam2.Project(new Vec3(p1[at], p1[at + 1], p1[at + 2]));
            Assert.Equal(Correspondences.CellToPixel(pg[2 * k + 1], 8), x2, 2);
            Assert.Equal(Correspondences.CellToPixel(pg[2 * k], 8), y2, 2);
        }
    }

    [Fact]
    public void OccludedPoints_AreRejected()
    {
        // A back wall at z = 6 and a square of side 1.6 at z = 3 in front of it; camera 2 moved 1.2 sideways, looking at
        // the wall's centre: it sees a strip of the wall beside the square that camera 1 sees, now hidden behind the square.
        var tex = Photo();
        var cam1 = PinholeCamera.AtOrigin(90, (S - 1) / 2.0, (S - 1) / 2.0);
        var c2 = new Vec3(1.2, 0, 0);
        var cam2 = new PinholeCamera(90, 90, (S - 1) / 2.0, (S - 1) / 2.0, Rotation3.LookAt(c2, new Vec3(0, 0, 6)), c2);
        const double half = 0.8;
        var wall = Plane(tex, new Vec3(0, 0, 6), new Vec3(0, 0, -1));
        var near = Plane(tex, new Vec3(0, 0, 3), new Vec3(0, 0, -1), half: half);
        var planes = new[] { wall, near };
        var (_, depth1) = PlaneSceneRenderer.Render(planes, cam1, S, S);
        var (_, depth2) = PlaneSceneRenderer.Render(planes, cam2, S, S);
        var t12 = PinholeCamera.RelativePose(cam1, cam2);
        using var got = DepthCorrespondences.Compute(new SceneView(cam1, depth1), new SceneView(cam2, depth2), t12, stride: 8, tolerance: 0.02);
        var kept = new HashSet<(long, long)>();
        var cells = got.Matches.Cells1.data<long>().ToArray();
        for (int k = 0; k < got.Matches.Count; k++) kept.Add((cells[2 * k], cells[2 * k + 1]));

        int occluded = 0, visible = 0;
        for (int i = 0; i < S / 8; i++)
            for (int j = 0; j < S / 8; j++)
            {
                double x = Correspondences.CellToPixel(j, 8), y = Correspondences.CellToPixel(i, 8);
                // Where this cell's ray meets the wall, and whether the near square hides that point from camera 1 or 2.
                var wallPoint = 6 * new Vec3((x - cam1.Cx) / 90, (y - cam1.Cy) / 90, 1);
                var seen1 = 0.5 * wallPoint;  // the ray at z = 3
                double margin1 = Math.Min(Math.Abs(Math.Abs(seen1.X) - half), Math.Abs(Math.Abs(seen1.Y) - half));
                if ((Math.Abs(seen1.X) <= half && Math.Abs(seen1.Y) <= half) || margin1 < 0.1) continue;  // on or near the square in view 1
                var (x2, y2) = cam2.Project(cam2.ToCamera(wallPoint));
                if (x2 < 8 || y2 < 8 || x2 > S - 9 || y2 > S - 9) continue;  // outside (or at the border of) view 2
                var cross = cam2.C + 0.5 * (wallPoint - cam2.C);  // camera 2's line of sight at z = 3
                double margin2 = Math.Min(Math.Abs(Math.Abs(cross.X) - half), Math.Abs(Math.Abs(cross.Y) - half));
                if (margin2 < 0.1) continue;
                bool hidden = Math.Abs(cross.X) <= half && Math.Abs(cross.Y) <= half;
                if (hidden) { occluded++; Assert.DoesNotContain((i, j), kept); }
                else { visible++; Assert.Contains((i, j), kept); }
            }
        Assert.True(occluded >= 4 && visible >= 20, $"test scene too weak: {occluded} occluded, {visible} visible wall cells");
    }

    private static SceneSampler Sampler(int crop = S)
    {
        var folder = new ImageFolder(TrainFixture.Photos3WithCorrupt);
        var images = folder.Load(folder.Train, _ => { });
        var sampler = new SceneSampler(images, new PairSettings(crop, 0.8, 1, 0.6, 15, 0.1, 0.15, 0.25, 0.3, 0.02, 10, 16), new SceneSettings(), stride: 8);
        foreach (var (_, t) in images) t.Dispose();
        return sampler;
    }

    private static bool SameBits(Tensor a, Tensor b) =>
        a.shape.SequenceEqual(b.shape) && a.data<float>().ToArray().Select(BitConverter.SingleToInt32Bits).SequenceEqual(b.data<float>().ToArray().Select(BitConverter.SingleToInt32Bits));

    [Fact]
    public void SceneSampler_IsDeterministicPerSeed_AndItsPointsAgreeAcrossViews()
    {
        using var sampler = Sampler();
        using var a = sampler.Draw(42);
        using var b = sampler.Draw(42);
        using var other = sampler.Draw(43);
        Assert.True(SameBits(a.Image1, b.Image1) && SameBits(a.Image2, b.Image2));
        Assert.Equal(a.Matches.Cells1.data<long>().ToArray(), b.Matches.Cells1.data<long>().ToArray());
        Assert.True(SameBits(a.Matches.Pos2, b.Matches.Pos2) && SameBits(a.Points1!, b.Points1!) && SameBits(a.Points2!, b.Points2!));
        Assert.False(SameBits(a.Image1, other.Image1));
        Assert.Equal([S / 8, S / 8, 3], a.Points1!.shape);
        // A match's point from image 1 and image 2's points around its position (camera 2's frame both) are the same surface point.
        var p1 = a.Points1!.data<float>().ToArray();
        var p2 = a.Points2!.data<float>().ToArray();
        var cells = a.Matches.Cells1.data<long>().ToArray();
        var pos = a.Matches.Pos2.data<float>().ToArray();
        int g = S / 8, close = 0;
        for (int k = 0; k < a.Matches.Count; k++)
        {
            long at = 3 * (cells[2 * k] * g + cells[2 * k + 1]);
            int r = (int)Math.Round(pos[2 * k]), c = (int)Math.Round(pos[2 * k + 1]);
            long at2 = 3 * (r * g + c);
            double dz = Math.Abs(p1[at + 2] - p2[at2 + 2]) / p1[at + 2];
            if (dz < 0.1) close++;
        }
        Assert.True(close >= 0.8 * a.Matches.Count, $"{close} of {a.Matches.Count} matches agree in depth with image 2's nearest cell");
    }

    [Fact]
    public void ScenePairs_BuildBatchesWithPoints_TrainEndToEnd_AndResumeBitForBit()
    {
        var c = TrainFixture.Config(TrainFixture.TempDir("scenes"), steps: 3);
        c.Data.Source = DataSource.Scenes;
        c.Validate();
        using (var sampler = Sampler())
        using (var batch = Batch.Make(sampler, 5, step: 0, batchSize: 2))
        {
            Assert.NotNull(batch.Points1);
            Assert.Equal(2, batch.Points2!.Length);
            Assert.All(batch.H12, Assert.Null);
        }
        var outcome = TrainSession.Run(c, null, new RecordingProgress(), CancellationToken.None);
        Assert.Equal(3, outcome.FinalStep);
        Assert.True(outcome.LastLoss is > 0 and < 10, $"last loss {outcome.LastLoss}");
        Assert.Equal(3, TrainSession.ReadLosses(c.Run.Out).Count);

        // Stopped after step 1 and resumed: the same losses and the same weights, bit for bit (scene draws depend on (seed, step) only).
        var b = TrainFixture.Config(TrainFixture.TempDir("scenes-resume"), steps: 3);
        b.Data.Source = DataSource.Scenes;
        using var cts = new CancellationTokenSource();
        Assert.True(TrainSession.Run(b, null, new RecordingProgress(cts, stopAfter: 1), cts.Token).Interrupted);
        var info = Checkpoint.ReadInfo(b.Run.Out);
        Assert.Equal(3, TrainSession.Run(info.Config, info, new RecordingProgress(), CancellationToken.None).FinalStep);
        static string[] Rows(string dir) => File.ReadLines(Path.Combine(dir, TrainSession.MetricsFile)).Skip(1)
            .Select(l => string.Join(',', l.Split(',').Take(6))).ToArray();
        Assert.Equal(Rows(c.Run.Out), Rows(b.Run.Out));
        using var modelA = Checkpoint.LoadModel(Checkpoint.ReadInfo(c.Run.Out));
        using var modelB = Checkpoint.LoadModel(Checkpoint.ReadInfo(b.Run.Out));
        var pb = modelB.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().data<float>().ToArray());
        foreach (var (name, pa) in modelA.named_parameters())
            Assert.True(pa.detach().data<float>().ToArray().AsSpan().SequenceEqual(pb[name]), $"parameter {name} differs after resume");
    }

    [Theory]
    [InlineData("data.source", "cubes", "config 'data.source': expected one of homography | scenes | megadepth, got 'cubes'")]
    [InlineData("scene.depth_max", "1", "config 'scene.depth_max': expected a number > scene.depth_min = 2, got 1")]
    [InlineData("scene.planes_max", "1", "config 'scene.planes_max': expected an integer in [scene.planes_min = 2, 16], got 1")]
    [InlineData("scene.baseline_max", "3", "config 'scene.baseline_max': expected a number in [scene.baseline_min = 0.1, scene.depth_min = 2), got 3")]
    [InlineData("scene.depth_tolerance", "0", "config 'scene.depth_tolerance': expected a number in (0, 1) (relative), got 0")]
    [InlineData("loss.safe_radius_3d", "-1", "config 'loss.safe_radius_3d': expected a number ≥ 0 (scene units), got -1")]
    [InlineData("data.source", "megadepth", "config 'data.megadepth': expected a MegaDepth-style folder (images/, depths/, cameras.json, pairs.txt) with data.source megadepth, got none")]
    public void BadSceneSettings_StopWithOneLine(string key, string value, string expected)
    {
        var c = new TrainConfig();
        var e = Assert.Throws<ConfigException>(() => { c.Set(key, value); c.Validate(); });
        Assert.Equal(expected, e.Message);
    }

    [Fact]
    public void Console_BadDataSource_PrintsOneLine()
    {
        var (code, _, stderr) = ConsoleProcess.Run(["train", "--data", "cubes", "--out", TrainFixture.TempDir("cubes")]);
        Assert.Equal(1, code);
        Assert.Equal("error: config 'data.source': expected one of homography | scenes | megadepth, got 'cubes'", stderr.Trim());
    }

    [Fact]
    public void SyntheticPoses_AreScenePairsWithTheirExactPose()
    {
        var c = new TrainConfig { Data = new() { Images = TrainConfig.DefaultImages }, Eval = new() { CropSize = 128 } };
        var pairs = LocalFeat.Train.Evaluation.PairSets.SyntheticPoses(c, 2, _ => { });
        try
        {
            Assert.Equal(2, pairs.Count);
            foreach (var p in pairs)
            {
                Assert.Equal(ScalarType.Byte, p.Gray0.dtype);
                Assert.Equal([128L, 128L], p.Gray1.shape);
                // T0to1's rotation block is a rotation, its last row (0 0 0 1).
                var r = new[] { p.T0to1[0], p.T0to1[1], p.T0to1[2], p.T0to1[4], p.T0to1[5], p.T0to1[6], p.T0to1[8], p.T0to1[9], p.T0to1[10] };
                var rrt = Homography.Mul(r, [r[0], r[3], r[6], r[1], r[4], r[7], r[2], r[5], r[8]]);
                for (int k = 0; k < 9; k++) Assert.Equal(k % 4 == 0 ? 1 : 0, rrt[k], 9);
                Assert.Equal([0.0, 0, 0, 1], p.T0to1[12..]);
                Assert.True(p.K0[0] > 0 && p.K1[4] > 0);
            }
        }
        finally { foreach (var p in pairs) p.Dispose(); }
    }
}
