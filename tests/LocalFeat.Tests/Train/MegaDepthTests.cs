using System.Text.Json;
using LocalFeat.Train.Data;
using LocalFeat.Train.Data.Scenes;
using LocalFeat.Train.Settings;
using LocalFeat.Train.Training;
using Xunit;

namespace LocalFeat.Tests.Train;

/// <summary>
/// MegaDepth-style folders on a tiny scene that Fixtures/make_megadepth_scene.py writes (h5py, OpenCV): two rendered
/// views of a plane with exact depth, converted by scripts/convert_megadepth.py from D2-Net's and LoFTR's index layouts.
/// </summary>
[Collection(SerialCollection.Name)]  // the training run sets the process-wide torch seed and threads
public class MegaDepthTests
{
    private static readonly Lazy<string> Scene = new(() =>
    {
        string dir = TrainFixture.TempDir("megadepth");
        string fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures");
        Run(Path.Combine(fixtures, "make_megadepth_scene.py"), dir);
        Run(Path.Combine(fixtures, "convert_megadepth.py"), Path.Combine(dir, "scene_info.npz"), "--root", Path.Combine(dir, "raw"), "--out", Path.Combine(dir, "d2net"));
        Run(Path.Combine(fixtures, "convert_megadepth.py"), Path.Combine(dir, "loftr_index.npz"), "--root", Path.Combine(dir, "raw"), "--out", Path.Combine(dir, "loftr"), "--copy");
        return dir;
    });

    private static void Run(string script, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("/usr/bin/python3", [script, .. args]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        string stderr = p.StandardError.ReadToEnd();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{Path.GetFileName(script)} failed: {stderr}");
    }

    [Fact]
    public void Converter_ReadsD2NetAndLoftrIndices_IntoTheFolderFormat()
    {
        foreach (var layout in new[] { "d2net", "loftr" })
        {
            string root = Path.Combine(Scene.Value, layout);
            // D2-Net: overlap 0.8 (a, b) kept; the third image has no paths. LoFTR: the pair at overlap 0.3 is below 0.5.
            Assert.Equal(["a.png b.png 0.8000"], File.ReadAllLines(Path.Combine(root, "pairs.txt")));
            using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "cameras.json")));
            var k = doc.RootElement.GetProperty("a.png").GetProperty("K").EnumerateArray().Select(v => v.GetDouble()).ToArray();
            Assert.Equal([170.0, 0, 101, 0, 172, 74, 0, 0, 1], k);
            var folder = MegaDepthFolder.Open(root);
            Assert.Equal(2, folder.Cameras.Count);
            Assert.Equal(("a.png", "b.png"), Assert.Single(folder.Pairs));
            Assert.Equal(-0.5, folder.Cameras["b.png"].Pose[3], 12);
        }
    }

    [Fact]
    public void DepthH5_LoadsWithIdenticalValues_PlainAndGzip()
    {
        var folder = MegaDepthFolder.Open(Path.Combine(Scene.Value, "d2net"));
        foreach (var name in new[] { "a", "b" })
        {
            var depth = folder.ReadDepth(name + ".png");
            var raw = File.ReadAllBytes(Path.Combine(Scene.Value, name + "_depth.bin"));
            var want = new float[raw.Length / 4];
            Buffer.BlockCopy(raw, 0, want, 0, raw.Length);
            Assert.Equal((200, 150), (depth.Width, depth.Height));
            Assert.Equal(want.Select(BitConverter.SingleToInt32Bits), depth.Values.Select(BitConverter.SingleToInt32Bits));
        }
        Assert.Equal(0f, folder.ReadDepth("a.png").Values[40 * 200 + 50]);  // the block without depth
    }

    [Fact]
    public void MegaDepthPairs_CorrespondencesLandOnTheSameTexture()
    {
        var folder = MegaDepthFolder.Open(Path.Combine(Scene.Value, "loftr"));
        var settings = new PairSettings(96, 0.8, 1, 0.6, 15, 0.1, 0, 0, 0, 0, 10, 16);
        using var source = new MegaDepthSource(folder, settings, new SceneSettings(), stride: 8);
        for (ulong seed = 0; seed < 3; seed++)
        {
            using var pair = source.Sample(seed, augment: false);
            using var m = DepthCorrespondences.Compute(pair.View1, pair.View2, pair.T12, 8, 0.02);
            Assert.True(m.Matches.Count >= 16, $"seed {seed}: {m.Matches.Count} correspondences");
            var i1 = pair.Image1[0].data<float>().ToArray();
            var i2 = pair.Image2[0].data<float>().ToArray();
            var cells = m.Matches.Cells1.data<long>().ToArray();
            var pos = m.Matches.Pos2.data<float>().ToArray();
            double Mismatch(double shift)
            {
                double sum = 0;
                for (int k = 0; k < m.Matches.Count; k++)
                {
                    double y1 = Correspondences.CellToPixel(cells[2 * k], 8), x1 = Correspondences.CellToPixel(cells[2 * k + 1], 8);
                    double y2 = Correspondences.CellToPixel(pos[2 * k], 8), x2 = Correspondences.CellToPixel(pos[2 * k + 1], 8) + shift;
                    sum += Math.Abs(Bilinear(i1, x1, y1) - Bilinear(i2, x2, y2));
                }
                return sum / m.Matches.Count;
            }
            double good = Mismatch(0), shifted = Mismatch(3);
            // The views were rendered by python (COLMAP pixel convention), resized and cropped here: a wrong K shift shows.
            Assert.True(good < 0.04 && good < 0.5 * shifted, $"seed {seed}: mean |I1 − I2| at matches {good:F4}, 3 px off {shifted:F4}");
        }
    }

    private static double Bilinear(float[] img, double x, double y)
    {
        const int s = 96;
        x = Math.Clamp(x, 0, s - 1); y = Math.Clamp(y, 0, s - 1);
        int x0 = Math.Min((int)x, s - 2), y0 = Math.Min((int)y, s - 2);
        double fx = x - x0, fy = y - y0;
        return (img[y0 * s + x0] * (1 - fx) + img[y0 * s + x0 + 1] * fx) * (1 - fy) + (img[(y0 + 1) * s + x0] * (1 - fx) + img[(y0 + 1) * s + x0 + 1] * fx) * fy;
    }

    [Fact]
    public void Cameras_FollowColmapsPixelConvention_ThroughResizeAndCrop()
    {
        // COLMAP: u = fx·X/Z + cx with the top-left pixel's centre at 0.5; LocalFeat's pixel x = u − 0.5. Scaling an image
        // by s maps x to (x + 0.5)·s − 0.5, and a crop at x0 subtracts x0: so x'' = u·s − 0.5 − x0.
        var pose = new double[] { 1, 0, 0, 0.1, 0, 1, 0, -0.2, 0, 0, 1, 0.5, 0, 0, 0, 1 };
        var cam = new MegaDepthCamera([170, 0, 101, 0, 172, 74, 0, 0, 1], pose).ToPinhole(0.64, 0.6, 10, 3);
        var world = new Vec3(0.3, -0.2, 3.5);
        var p = new Vec3(world.X + 0.1, world.Y - 0.2, world.Z + 0.5);  // X_cam = R·X + t with R = I
        double u = 170 * p.X / p.Z + 101, v = 172 * p.Y / p.Z + 74;
        var (x, y) = cam.Project(cam.ToCamera(world));
        Assert.Equal(u * 0.64 - 0.5 - 10, x, 9);
        Assert.Equal(v * 0.6 - 0.5 - 3, y, 9);
    }

    [Fact]
    public void TrainingOnAMegaDepthFolder_RunsEndToEnd()
    {
        var c = TrainFixture.Config(TrainFixture.TempDir("md-train"), steps: 2);
        c.Data.Source = DataSource.Megadepth;
        c.Data.Megadepth = Path.Combine(Scene.Value, "d2net");
        c.Validate();
        var progress = new RecordingProgress();
        var outcome = TrainSession.Run(c, null, progress, CancellationToken.None);
        Assert.Equal(2, outcome.FinalStep);
        Assert.True(outcome.LastLoss is > 0 and < 10, $"last loss {outcome.LastLoss}");
        Assert.Contains(progress.Messages, m => m.StartsWith("pairs: MegaDepth-style folder: 1 pairs of 2 images", StringComparison.Ordinal));
    }

    [Fact]
    public void BadFolders_AreRefusedNamingTheFileAndLine()
    {
        string root = TrainFixture.TempDir("md-bad");
        Assert.Contains("no cameras.json", Assert.Throws<InvalidDataException>(() => MegaDepthFolder.Open(root)).Message);
        File.WriteAllText(Path.Combine(root, "cameras.json"), """{"a.png": {"K": [1, 0, 0, 0, 1, 0, 0, 0, 1], "pose": [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]}}""");
        File.WriteAllText(Path.Combine(root, "pairs.txt"), "# pairs\na.png c.png\n");
        var e = Assert.Throws<InvalidDataException>(() => MegaDepthFolder.Open(root));
        Assert.Equal($"'{Path.Combine(root, "pairs.txt")}' line 2: image 'c.png' is not in cameras.json", e.Message);
    }
}
