using System.Globalization;
using LocalFeat.Models;
using LocalFeat.Train.Evaluation;
using LocalFeat.Train.Evaluation.Pose;
using LocalFeat.Train.Training;
using LocalFeat.Train.Vision;
using TorchSharp;
using Xunit;

namespace LocalFeat.Tests.Train;

/// <summary><c>localfeat eval --pose-pairs</c> as a user runs it (the console as a child process) on the python-rendered room.</summary>
[Collection(SerialCollection.Name)]  // seeds the process-wide generator; child processes share the two cores
public class PoseConsoleTests
{
    private static readonly Lazy<string> Checkpointed = new(() =>
    {
        string run = TrainFixture.TempDir("pose-run");
        var c = TrainFixture.Config(run);
        torch.manual_seed(5);
        using var model = FeatureNet.Tiny();
        using var trainer = new Trainer(model, c, torch.CPU);
        Checkpoint.Save(run, model, trainer.Optimizer, 0, c);
        return run;
    });

    [Fact]
    public void EvalWithPosePairs_ReportsPoseAucOfOursSiftAndOrb_WithImagesFromAnotherFolder()
    {
        string pairs = PoseTests.RenderedRoom;
        // Three of its pairs (one unturned, the two with turned images) in a file elsewhere, the images found through --images;
        // 480×360 px and stride-8 features keep it short.
        string listDir = TrainFixture.TempDir("pose-list"), list = Path.Combine(listDir, "room_pairs.txt");
        var lines = File.ReadAllLines(pairs);
        File.WriteAllLines(list, [lines[0], lines[4], lines[5]]);
        string outDir = Path.Combine(TrainFixture.TempDir("pose-eval"), "out");
        var (code, stdout, err) = ConsoleProcess.Run(["eval", "--checkpoint", Checkpointed.Value, "--pose-pairs", list, "--images", Path.GetDirectoryName(pairs)!,
            "--out", outDir, "--set", "eval.synthetic_pairs=0", "--set", "eval.synthetic_pose_pairs=0", "--set", "eval.budget=1000", "--set", "eval.pose_resize=480", "--set", "eval.dense=false"], timeoutS: 300);
        Assert.True(code == 0, err);
        string report = File.ReadAllText(Path.Combine(outDir, Evaluator.ReportFile));
        Assert.Contains("## Relative pose", report);
        Assert.Contains("### pose room_pairs.txt (3 pairs)", report);
        Assert.Contains("## Relative pose", stdout);  // not a terminal: the whole report is printed
        var rows = report.Split('\n').Where(l => l.StartsWith("| ", StringComparison.Ordinal) && l.Contains(" | ") && l.Split('|').Length == 10).ToList();
        Assert.Contains(rows, r => r.StartsWith("| ours (tiny) |", StringComparison.Ordinal));
        var sift = rows.Single(r => r.StartsWith("| SIFT |", StringComparison.Ordinal)).Split('|').Select(s => s.Trim()).ToArray();
        // | method | keypoints | matches | inlier ratio | AUC@5° | AUC@10° | AUC@20° | failed |
        double auc20 = double.Parse(sift[7], CultureInfo.InvariantCulture);
        Assert.True(auc20 > 80, $"SIFT AUC@20° {auc20} %: {string.Join(" | ", sift)}");
        Assert.Equal("0", sift[8]);
        Assert.Contains(rows, r => r.StartsWith("| ORB |", StringComparison.Ordinal));
        using var plot = OpenCv.ReadImage(Path.Combine(outDir, PoseEvaluator.PlotFile), color: true);
        Assert.Equal(3, plot.size(2));
    }

    [Fact]
    public void EvalWithAMalformedPairsFile_StopsWithOneLineNamingTheLine()
    {
        string dir = TrainFixture.TempDir("pose-badfile"), list = Path.Combine(dir, "pairs.txt");
        File.WriteAllText(list, "# header\na.png b.png 0 0 1 2 3\n");
        string outDir = TrainFixture.TempDir("pose-badout");
        var (code, _, err) = ConsoleProcess.Run(["eval", "--checkpoint", Checkpointed.Value, "--pose-pairs", list, "--out", outDir,
            "--set", "eval.synthetic_pairs=0", "--set", "eval.synthetic_pose_pairs=0"]);
        Assert.Equal(1, code);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToList();
        Assert.Equal($"error: pose pairs '{list}' line 2: expected 38 whitespace-separated fields (name0 name1 rot0 rot1 K0[9] K1[9] T_0to1[16]), got 7", Assert.Single(lines));
        Assert.False(File.Exists(Path.Combine(outDir, Evaluator.ReportFile)));  // checked before any evaluation ran
    }
}
