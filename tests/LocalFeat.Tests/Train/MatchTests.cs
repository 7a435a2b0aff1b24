using TorchSharp;
using static TorchSharp.torch;
using LocalFeat.Train.Vision;
using LocalFeat.Train.Commands;
using LocalFeat.Train.Data;
using LocalFeat.Models;
using LocalFeat.Train.Training;
using Xunit;

namespace LocalFeat.Tests.Train;

[Collection(SerialCollection.Name)]  // seeds the process-wide generator
public class MatchTests
{
    /// <summary>Two windows of graf1.png, 23 px right and 11 px down of each other: image 2 = image 1 shifted by (−23, −11).</summary>
    private static (string a, string b) ShiftedCrops()
    {
        string dir = TrainFixture.TempDir("match-in");
        using var scope = torch.NewDisposeScope();
        var photo = OpenCv.ReadImage(Path.Combine(TrainFixture.OpenCvData, "graf1.png"));
        string a = Path.Combine(dir, "left.png"), b = Path.Combine(dir, "right.png");
        OpenCv.WriteImage(a, photo.narrow(0, 100, 320).narrow(1, 150, 400).contiguous());
        OpenCv.WriteImage(b, photo.narrow(0, 111, 300).narrow(1, 173, 380).contiguous());
        return (a, b);
    }

    [Fact]
    public void Sift_RecoversTheKnownShiftAndDrawsBothImages()
    {
        var (a, b) = ShiftedCrops();
        string png = Path.Combine(TrainFixture.TempDir("match-out"), "sub", "m.png");
        var r = MatchCommand.Match(a, b, "sift", null, png, []);
        Assert.True(r.Inliers > 100 && r.Inliers <= r.Matches && r.Matches <= Math.Min(r.Keypoints1, r.Keypoints2), $"{r}");
        Assert.NotNull(r.Homography);
        Assert.True(Homography.CornerError(r.Homography!, Homography.Translation(-23, -11), 400, 320) < 0.5);
        using var drawn = OpenCv.ReadImage(png, color: true);
        Assert.Equal(new long[] { 320 + 30, 400 + 380, 3 }, drawn.shape);  // title strip above the larger image, side by side
    }

    [Fact]
    public void Ours_MatchesWithACheckpointAndHonoursTheBudget()
    {
        string run = TrainFixture.TempDir("match-run");
        var c = TrainFixture.Config(run);
        torch.manual_seed(3);
        using (var model = FeatureNet.Tiny())
        using (var trainer = new Trainer(model, c, torch.CPU))
            Checkpoint.Save(run, model, trainer.Optimizer, 0, c);
        var (a, b) = ShiftedCrops();
        string png = Path.Combine(TrainFixture.TempDir("match-out"), "ours.png");
        var r = MatchCommand.Match(a, b, "ours", run, png, [("eval.budget", "100")]);
        Assert.InRange(r.Keypoints1, 1, 100);
        Assert.InRange(r.Keypoints2, 1, 100);
        Assert.InRange(r.Matches, 1, Math.Min(r.Keypoints1, r.Keypoints2));
        Assert.InRange(r.Inliers, 0, r.Matches);
        Assert.True(File.Exists(png));
    }

    [Fact]
    public void BadArguments_AreNamed()
    {
        var (a, _) = ShiftedCrops();
        var missing = Assert.Throws<FileNotFoundException>(() => MatchCommand.Match(a, "/nonexistent/b.png", "sift", null, "x.png", []));
        Assert.Contains("image2", missing.Message);
        var noCheckpoint = Assert.Throws<ConfigException>(() => MatchCommand.Match(a, a, "ours", null, "x.png", []));
        Assert.Contains("--checkpoint", noCheckpoint.Message);
        var stray = Assert.Throws<ConfigException>(() => MatchCommand.Match(a, a, "orb", "/some/run", "x.png", []));
        Assert.Contains("--method orb", stray.Message);
        var badKey = Assert.Throws<ConfigException>(() => MatchCommand.Match(a, a, "sift", null, "x.png", [("eval.budget", "-1")]));
        Assert.Contains("eval.budget", badKey.Message);
    }
}
