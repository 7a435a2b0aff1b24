using LocalFeat.Train.Vision;
using TorchSharp;
using static TorchSharp.torch;
using LocalFeat.Train.Data;
using LocalFeat.Train.Training;

namespace LocalFeat.Train.Evaluation;

/// <summary>The evaluation pairs: graf1→graf3, synthetic pairs of held-out photos, HPatches-format folders.</summary>
public static class PairSets
{
    public const string GrafSet = "graf1→graf3";
    public const string SyntheticSet = "synthetic held-out";
    public const string SyntheticPoseSet = "synthetic held-out poses";

    /// <summary>
    /// The pose sets every evaluation uses (eval and compare): the synthetic 3-D scenes of held-out photos
    /// (eval.synthetic_pose_pairs) and the SuperGlue pairs file of eval.pose_pairs when set. Each pair is disposed by
    /// <see cref="Pose.PoseEvaluator"/> after its evaluation.
    /// </summary>
    public static List<Pose.PoseSet> StandardPoses(TrainConfig c, Action<string> warn)
    {
        var sets = new List<Pose.PoseSet>();
        if (c.Eval.SyntheticPosePairs > 0) sets.Add(Pose.PoseSet.Of(SyntheticPoseSet, SyntheticPoses(c, c.Eval.SyntheticPosePairs, warn)));
        if (c.Eval.PosePairs != null) sets.Add(Pose.PosePairsFile.Open(c.Eval.PosePairs, c.Eval.PoseImages, Pose.PoseResize.Parse(c.Eval.PoseResize), warn));
        return sets;
    }

    /// <summary>
    /// The pair sets every evaluation uses (eval and compare): graf1→graf3, the synthetic held-out pairs, and the HPatches folder of
    /// eval.pairs when set. One place, so a new set (held-out poses) reaches both commands. The caller disposes the pairs.
    /// </summary>
    public static List<(string set, List<EvalPair> pairs)> Standard(TrainConfig c, Action<string> warn)
    {
        var sets = new List<(string, List<EvalPair>)>();
        try
        {
            var graf = Graf(c.Data.Images);
            if (graf is null) warn("graf1.png / graf3.png / H1to3p.xml not found: skipping the real pair");
            else sets.Add((GrafSet, [graf]));
            sets.Add((SyntheticSet, Synthetic(c, c.Eval.SyntheticPairs, warn)));
            if (c.Eval.Pairs != null) sets.Add(($"HPatches {Path.GetFileName(Path.TrimEndingDirectorySeparator(c.Eval.Pairs))}", HPatches(c.Eval.Pairs, warn)));
            return sets;
        }
        catch
        {
            foreach (var (_, ps) in sets) foreach (var p in ps) p.Dispose();
            throw;
        }
    }

    /// <summary>The Oxford Graffiti pair (viewpoint change) with H1to3p.xml, from <paramref name="folder"/> or the opencv-doc photos.</summary>
    public static EvalPair? Graf(string folder)
    {
        foreach (var dir in new[] { folder, TrainConfig.DefaultImages }.Distinct())
        {
            string a = Path.Combine(dir, "graf1.png"), b = Path.Combine(dir, "graf3.png"), h = Path.Combine(dir, "H1to3p.xml");
            if (File.Exists(a) && File.Exists(b) && File.Exists(h))
                return new EvalPair("graf1→graf3", OpenCv.ReadImage(a).DetachFromDisposeScope(), OpenCv.ReadImage(b).DetachFromDisposeScope(), OpenCv.ReadMatrix(h, 3, 3));
        }
        return null;
    }

    /// <summary>
    /// <paramref name="count"/> random homography pairs (the training distribution, eval crop size, fixed seed) of the
    /// held-out photos other than graf1/graf3 — never seen in training.
    /// </summary>
    public static List<EvalPair> Synthetic(TrainConfig c, int count, Action<string> warn)
    {
        if (count == 0) return [];
        var images = HeldOutPhotos(c.Data.Images, int.MaxValue, "synthetic pairs", warn);
        if (images.Count == 0) return [];
        try
        {
            using var sampler = new PairSampler(images, PairSettings.From(c, c.Eval.CropSize), stride: 8);
            var pairs = new List<EvalPair>();
            for (int k = 0; k < count; k++)
            {
                using var scope = torch.NewDisposeScope();
                using var p = sampler.Sample(PairSampler.Mix((ulong)c.Eval.Seed) ^ (ulong)k);
                pairs.Add(new EvalPair($"synthetic-{k:D2} ({p.Source})", ToUInt8(p.Image1), ToUInt8(p.Image2), p.H12));
            }
            return pairs;
        }
        finally { foreach (var (_, t) in images) t.Dispose(); }
    }

    /// <summary>
    /// The first <paramref name="count"/> held-out photos of <paramref name="root"/> other than graf1/graf3, grey uint8 (the
    /// synthetic pairs', the pose pairs' and the sweeps' sources); none, with a warning naming <paramref name="what"/>, when
    /// the folder holds no such photo. The caller disposes them.
    /// </summary>
    public static List<(string name, Tensor image)> HeldOutPhotos(string root, int count, string what, Action<string> warn)
    {
        var folder = new ImageFolder(root);
        var names = folder.HeldOut.Where(n => Path.GetFileName(n) is not ("graf1.png" or "graf3.png")).Take(count).ToList();
        if (names.Count == 0) { warn($"no held-out photos besides graf1/graf3 in '{folder.Root}': no {what}"); return []; }
        return folder.Load(names, warn);
    }

    /// <summary>
    /// <paramref name="count"/> synthetic 3-D scene pairs (the training scenes at the eval crop size, fixed eval seed, no
    /// photometric change) of the held-out photos other than graf1/graf3, as pose pairs: grey images, K of each view and
    /// the exact relative pose camera 0 → camera 1.
    /// </summary>
    public static List<PosePair> SyntheticPoses(TrainConfig c, int count, Action<string> warn)
    {
        if (count == 0) return [];
        var images = HeldOutPhotos(c.Data.Images, int.MaxValue, "synthetic pose pairs", warn);
        if (images.Count == 0) return [];
        try
        {
            using var sampler = new Data.Scenes.SceneSampler(images, PairSettings.From(c, c.Eval.CropSize), c.Scene, stride: 8);
            var pairs = new List<PosePair>();
            for (int k = 0; k < count; k++)
            {
                using var scope = torch.NewDisposeScope();
                using var p = sampler.Sample(PairSampler.Mix((ulong)c.Eval.Seed ^ 0x9e3779b9UL) ^ (ulong)k, augment: false);
                pairs.Add(new PosePair($"scene-{k:D2} ({p.Source})", ToUInt8(p.Image1), ToUInt8(p.Image2), p.View1.Camera.K, p.View2.Camera.K, p.T12));
            }
            return pairs;
        }
        finally { foreach (var (_, t) in images) t.Dispose(); }
    }

    private static Tensor ToUInt8(Tensor x01) => (x01[0] * 255.0).round().clamp(0, 255).to(ScalarType.Byte).contiguous().DetachFromDisposeScope();

    private static Tensor Read(string path, Action<string> warn) =>
        OpenCv.ReadImage(path, warn: w => warn($"image '{path}': {w}"), minSide: CappedExtractor.MinSide).DetachFromDisposeScope();

    /// <summary>
    /// HPatches layout: sequence folders (v_* viewpoint, i_* illumination) with 1.ppm … 6.ppm and H_1_2 … H_1_6;
    /// pairs 1→k. A folder holding such sequences, or one sequence itself.
    /// </summary>
    public static List<EvalPair> HPatches(string root, Action<string> warn)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"HPatches folder not found: '{root}' (--pairs / config 'eval.pairs')");
        var sequences = File.Exists(Path.Combine(root, "1.ppm")) ? [root] : Directory.GetDirectories(root).Order(StringComparer.Ordinal).ToList();
        var pairs = new List<EvalPair>();
        foreach (var seq in sequences)
        {
            string first = Path.Combine(seq, "1.ppm");
            if (!File.Exists(first)) { warn($"skipping '{seq}': no 1.ppm (not an HPatches sequence)"); continue; }
            for (int k = 2; k <= 6; k++)
            {
                string img = Path.Combine(seq, $"{k}.ppm"), h = Path.Combine(seq, $"H_1_{k}");
                if (!File.Exists(img) || !File.Exists(h)) { warn($"skipping {Path.GetFileName(seq)} 1→{k}: missing {k}.ppm or H_1_{k}"); continue; }
                try
                {
                    pairs.Add(new EvalPair($"{Path.GetFileName(seq)} 1→{k}", Read(first, warn), Read(img, warn), Homography.ReadText(h)));
                }
                catch (Exception e) when (e is InvalidDataException or FormatException)
                {
                    warn($"skipping {Path.GetFileName(seq)} 1→{k}: {e.Message}");
                }
            }
        }
        if (pairs.Count == 0) throw new InvalidDataException($"no HPatches pairs found in '{root}' (expected sequence folders with 1.ppm … 6.ppm and H_1_k)");
        return pairs;
    }
}
