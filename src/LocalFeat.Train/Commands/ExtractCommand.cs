using System.CommandLine;
using LocalFeat.Train.Vision;
using static TorchSharp.torch;
using LocalFeat.Train.Evaluation;
using LocalFeat.Train.Reporting;
using LocalFeat.Train.Training;
using LocalFeat.Train.Data;

namespace LocalFeat.Train.Commands;

/// <summary><c>localfeat extract</c>: keypoints, scores and descriptors of a folder of images into D2-Net-style .npz files.</summary>
internal static class ExtractCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "A run folder, checkpoint folder or its state.json", Required = true };
        var images = new Option<string>("--images") { Description = "Folder of images (recursive)", Required = true };
        var outDir = new Option<string>("--out") { Description = "Output folder: one IMAGE.npz per image (keypoints N×3 x,y,scale; scores N; descriptors N×D)", Required = true };
        var cmd = new Command("extract", "Extract features of a folder of images into .npz files (D2-Net layout), readable by numpy.load.");
        foreach (var o in new Option[] { checkpoint, images, outDir, Cli.Set }) cmd.Options.Add(o);
        cmd.SetAction(r => Cli.Guard(() => Run(r.GetValue(checkpoint)!, r.GetValue(images)!, r.GetValue(outDir)!, Cli.SetPairs(r).ToList(), Cli.Warn)));
        return cmd;
    }

    /// <summary>Returns 0 when every image was written, 2 when some were skipped (unreadable or too small).</summary>
    public static int Run(string checkpointPath, string imageDir, string outDir, List<(string key, string value)> overrides, Action<string> warn)
    {
        if (!Directory.Exists(imageDir)) throw new DirectoryNotFoundException($"image folder not found: '{imageDir}' (--images)");
        OutputFolder.Create(outDir, "extract --out");
        using var trained = TrainedModel.Open(checkpointPath, overrides);
        string? note = null;
        var extractor = trained.Extractor(note: n => note = n);
        var files = ImageFiles.Under(imageDir);
        if (files.Count == 0) throw new InvalidDataException($"no images in '{imageDir}' ({string.Join(" ", ImageFiles.Extensions)})");
        int written = 0, skipped = 0;
        foreach (var rel in files)
        {
            string file = Path.Combine(imageDir, rel);
            string target = Path.Combine(outDir, rel + ".npz");
            Tensor gray;
            try { gray = OpenCv.ReadImage(file, warn: w => warn($"image '{rel}': {w}"), minSide: CappedExtractor.MinSide); }
            catch (InvalidDataException e) { warn($"skipping '{rel}': {e.Message}"); skipped++; continue; }
            note = null;
            using (gray)
            using (var f = extractor.Extract(gray))
            {
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                long n = f.Count, d = f.Descriptors.size(1);
                var kp = new float[n * 3];
                for (int i = 0; i < n; i++) { kp[3 * i] = f.X[i]; kp[3 * i + 1] = f.Y[i]; kp[3 * i + 2] = f.Scale[i]; }
                Npz.Write(target, new Dictionary<string, Npz.Array>
                {
                    ["keypoints"] = Npz.Of(kp, n, 3),
                    ["scores"] = Npz.Of(f.Score, n),
                    ["descriptors"] = Npz.Of(f.Descriptors.Values<float>(), n, d),
                });
                Console.WriteLine($"{rel}: {n} keypoints → {target}{(note is null ? "" : $" (note: {note})")}");
                written++;
            }
        }
        Console.WriteLine($"extracted {written} image(s) into {Path.GetFullPath(outDir)}{(skipped > 0 ? $", skipped {skipped} (unreadable or too small)" : "")}");
        return skipped > 0 ? 2 : 0;
    }
}
