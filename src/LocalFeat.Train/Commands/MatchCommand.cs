using System.CommandLine;
using System.Globalization;
using LocalFeat.Train.Vision;
using LocalFeat.Train.Evaluation;
using LocalFeat.Train.Reporting;
using LocalFeat.Train.Training;

namespace LocalFeat.Train.Commands;

/// <summary><c>localfeat match</c>: features of two images, mutual nearest neighbours, a RANSAC homography and a picture of the matches.</summary>
internal static class MatchCommand
{
    public static Command Create()
    {
        var image1 = new Argument<string>("image1") { Description = "First image" };
        var image2 = new Argument<string>("image2") { Description = "Second image" };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "A run folder, checkpoint folder or its state.json (required for --method ours)" };
        var method = new Option<string>("--method") { Description = "ours (the checkpoint's model), sift or orb (OpenCV)", DefaultValueFactory = _ => "ours" };
        method.AcceptOnlyFromAmong("ours", "sift", "orb");
        var outFile = new Option<string?>("--out") { Description = "PNG of the matches, RANSAC inliers green (default: IMAGE1_IMAGE2_matches.png here)" };
        var cmd = new Command("match", "Match two images: mutual nearest-neighbour matches, an OpenCV RANSAC homography, and a PNG of the matches.");
        cmd.Arguments.Add(image1);
        cmd.Arguments.Add(image2);
        foreach (var o in new Option[] { checkpoint, method, outFile, Cli.Set }) cmd.Options.Add(o);
        cmd.SetAction(r => Cli.Guard(() =>
        {
            string a = r.GetValue(image1)!, b = r.GetValue(image2)!;
            string output = r.GetValue(outFile) ?? DefaultName(a, b);
            return Run(a, b, r.GetValue(method)!, r.GetValue(checkpoint), output, Cli.SetPairs(r).ToList());
        }));
        return cmd;
    }

    public sealed record Result(int Keypoints1, int Keypoints2, int Matches, int Inliers, double[]? Homography, string Picture);

    private static string DefaultName(string a, string b) => $"{Path.GetFileNameWithoutExtension(a)}_{Path.GetFileNameWithoutExtension(b)}_matches.png";

    public static int Run(string image1, string image2, string method, string? checkpointPath, string outFile, List<(string key, string value)> overrides)
    {
        var r = Match(image1, image2, method, checkpointPath, outFile, overrides);
        Console.WriteLine($"{image1}: {r.Keypoints1} keypoints; {image2}: {r.Keypoints2} keypoints");
        Console.WriteLine($"{r.Matches} mutual nearest-neighbour matches, {r.Inliers} RANSAC inliers");
        if (r.Homography is { } h)
        {
            Console.WriteLine("homography image1 → image2:");
            for (int i = 0; i < 3; i++)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {h[3 * i],12:G6} {h[3 * i + 1],12:G6} {h[3 * i + 2],12:G6}"));
        }
        else Console.WriteLine("no homography found (fewer than 4 matches or a degenerate set)");
        Console.WriteLine($"matches drawn in {r.Picture}");
        return 0;
    }

    public static Result Match(string image1, string image2, string method, string? checkpointPath, string outFile, List<(string key, string value)> overrides)
    {
        foreach (var (arg, path) in new[] { ("image1", image1), ("image2", image2) })
            if (!File.Exists(path)) throw new FileNotFoundException($"{arg}: image not found: '{path}'");
        if (method == "ours" && checkpointPath is null) throw new ConfigException("match: --method ours needs --checkpoint (or use --method sift|orb)");
        if (method != "ours" && checkpointPath is not null) throw new ConfigException($"match: --checkpoint is for --method ours, got --method {method}");

        using var trained = method == "ours" ? TrainedModel.Open(checkpointPath!, overrides) : null;
        var config = trained?.Config ?? TrainConfig.Resolve(null, overrides);
        var notes = new List<string>();
        IFeatureExtractor extractor = trained is not null
            ? trained.Extractor($"ours ({Checkpoint.ModelName(trained.Model.Kind)})", notes.Add)
            : new CappedExtractor(new ClassicalExtractor(method == "sift" ? ClassicalFeature.Sift : ClassicalFeature.Orb, config.Eval.Budget),
                                  config.Eval.MaxImageSide, notes.Add);
        // A folder as --out gets the default file name inside it, as cp does.
        if (Directory.Exists(outFile)) outFile = Path.Combine(outFile, DefaultName(image1, image2));

        // Two images only, so one too small to match is an error (naming it), not a skipped file.
        using var gray1 = OpenCv.ReadImage(image1, warn: w => Cli.Warn($"image1 '{image1}': {w}"), minSide: CappedExtractor.MinSide);
        using var gray2 = OpenCv.ReadImage(image2, warn: w => Cli.Warn($"image2 '{image2}': {w}"), minSide: CappedExtractor.MinSide);
        using var a = extractor.Extract(gray1);
        using var b = extractor.Extract(gray2);
        var matches = Metrics.MutualNearest(a, b);
        var inliers = new bool[matches.Length];  // stays all false when no homography is found
        var h = Metrics.RansacHomography(a, b, matches, config.Eval.RansacThreshold, inliers);
        int inlierCount = inliers.Count(x => x);
        if (Path.GetDirectoryName(Path.GetFullPath(outFile)) is { } dir) Directory.CreateDirectory(dir);
        Plots.Matches(outFile, gray1, gray2, Evaluator.MatchLines(a, b, matches), inliers,
            $"{extractor.Name}: {matches.Length} mutual NN matches, {inlierCount} RANSAC inliers ({config.Eval.RansacThreshold} px, green)");
        foreach (var n in notes.Distinct()) Cli.Info("note: " + n);
        return new Result(a.Count, b.Count, matches.Length, inlierCount, h, Path.GetFullPath(outFile));
    }
}
