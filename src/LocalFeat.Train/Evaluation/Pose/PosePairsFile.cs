using System.Globalization;
using LocalFeat.Train.Vision;
using TorchSharp;

namespace LocalFeat.Train.Evaluation.Pose;

/// <summary>
/// SuperGlue's pairs files with ground truth (assets/scannet_test_pairs_with_gt.txt): per line, whitespace separated,
/// <c>name0 name1 rot0 rot1 K0[9] K1[9] T_0to1[16]</c>. Blank lines and lines starting with '#' are skipped.
/// Images are read as SuperGlue's match_pairs.py does: grey, resized (K scaled), then turned by rot90 (K and pose turned).
/// </summary>
public static class PosePairsFile
{
    public const int Fields = 38;

    private static readonly string[] FieldNames =
    [
        "name0", "name1", "rot0", "rot1",
        .. Enumerable.Range(0, 9).Select(i => $"K0[{i}]"), .. Enumerable.Range(0, 9).Select(i => $"K1[{i}]"), .. Enumerable.Range(0, 16).Select(i => $"T_0to1[{i}]"),
    ];

    /// <summary>Every line parsed and checked; the first bad one throws naming the file, line, field and value.</summary>
    /// <exception cref="FileNotFoundException">no such file.</exception>
    /// <exception cref="InvalidDataException">a malformed line, or no pairs at all.</exception>
    public static List<PosePairLine> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"pose pairs file not found: '{path}' (--pose-pairs / config 'eval.pose_pairs')", path);
        var result = new List<PosePairLine>();
        int number = 0;
        foreach (var raw in File.ReadLines(path))
        {
            number++;
            string text = raw.Trim();
            if (text.Length == 0 || text.StartsWith('#')) continue;
            result.Add(ParseLine(text, number, $"pose pairs '{path}' line {number}"));
        }
        if (result.Count == 0) throw new InvalidDataException($"pose pairs '{path}': no pairs (expected lines of {Fields} fields: name0 name1 rot0 rot1 K0[9] K1[9] T_0to1[16])");
        return result;
    }

    /// <summary>One line; <paramref name="where"/> starts every error message.</summary>
    public static PosePairLine ParseLine(string text, int number, string where)
    {
        var f = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (f.Length != Fields)
            throw new InvalidDataException($"{where}: expected {Fields} whitespace-separated fields (name0 name1 rot0 rot1 K0[9] K1[9] T_0to1[16]), got {f.Length}");
        int Rot(int i) => int.TryParse(f[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out int r) && r is >= 0 and <= 3
            ? r : throw new InvalidDataException($"{where}: field {i + 1} ({FieldNames[i]}): expected a quarter-turn count 0, 1, 2 or 3, got '{f[i]}'");
        double[] Numbers(int first, int count) => Enumerable.Range(first, count).Select(i =>
            double.TryParse(f[i], NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v)
                ? v : throw new InvalidDataException($"{where}: field {i + 1} ({FieldNames[i]}): expected a finite number, got '{f[i]}'")).ToArray();
        var line = new PosePairLine(number, f[0], f[1], Rot(2), Rot(3), Numbers(4, 9), Numbers(13, 9), Numbers(22, 16));
        CheckIntrinsics(line.K0, "K0", where);
        CheckIntrinsics(line.K1, "K1", where);
        CheckPose(line.T0to1, where);
        return line;
    }

    private static void CheckIntrinsics(double[] k, string name, string where)
    {
        if (!(k[0] > 0 && k[4] > 0) || k[3] != 0 || k[6] != 0 || k[7] != 0 || k[8] != 1)
            throw new InvalidDataException($"{where}: {name}: expected a pinhole matrix [fx s cx; 0 fy cy; 0 0 1] with fx, fy > 0, got [{Join(k)}]");
    }

    // A rigid transform: bottom row 0 0 0 1, R orthonormal with det +1 (to the 5 decimals of SuperGlue's files), t ≠ 0.
    private static void CheckPose(double[] t4, string where)
    {
        if (t4[12] != 0 || t4[13] != 0 || t4[14] != 0 || t4[15] != 1)
            throw new InvalidDataException($"{where}: T_0to1: expected the bottom row 0 0 0 1, got {Join(t4[12..])}");
        var (r, t) = PoseCameras.Split(t4);
        var rtr = LocalFeat.Train.Data.Homography.Mul(PoseCameras.Transpose(r), r);
        double off = Enumerable.Range(0, 9).Max(i => Math.Abs(rtr[i] - (i % 4 == 0 ? 1 : 0)));
        double det = r[0] * (r[4] * r[8] - r[5] * r[7]) - r[1] * (r[3] * r[8] - r[5] * r[6]) + r[2] * (r[3] * r[7] - r[4] * r[6]);
        if (off > 1e-3 || det <= 0)
            throw new InvalidDataException($"{where}: T_0to1: expected a rotation in its top-left 3×3 (RᵀR = I within 1e-3, det +1), got max |RᵀR − I| = {off:G3}, det {det:G4}");
        if (t.All(v => v == 0))
            throw new InvalidDataException($"{where}: T_0to1: the translation is zero, so the pair has no translation direction to evaluate");
    }

    private static string Join(IEnumerable<double> v) => string.Join(" ", v.Select(x => x.ToString("G6", CultureInfo.InvariantCulture)));

    /// <summary>
    /// The pairs of a file as a <see cref="PoseSet"/> named after it: lines checked and image files looked up now
    /// (relative to <paramref name="imagesDir"/>, default the file's folder), images read when enumerated.
    /// </summary>
    public static PoseSet Open(string path, string? imagesDir, PoseResize resize, Action<string> warn)
    {
        var lines = Read(path);
        string root = imagesDir ?? Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"pose pairs images folder not found: '{root}' (--images / config 'eval.pose_images')");
        foreach (var l in lines)
            foreach (var name in new[] { l.Name0, l.Name1 })
                if (!File.Exists(Path.Combine(root, name)))
                    throw new FileNotFoundException($"pose pairs '{path}' line {l.LineNumber}: image '{Path.Combine(root, name)}' not found (images are looked up in --images, default the pairs file's folder)");
        return new PoseSet($"pose {Path.GetFileName(path)}", lines.Count, lines.Select(l => Load(l, root, resize, warn)));
    }

    /// <summary>One pair's images read, resized and turned, with K and T_0to1 to match (SuperGlue's match_pairs.py).</summary>
    public static PosePair Load(PosePairLine line, string root, PoseResize resize, Action<string> warn)
    {
        var (gray0, k0) = Image(Path.Combine(root, line.Name0), line.K0, line.Rot0, resize, warn);
        try
        {
            var (gray1, k1) = Image(Path.Combine(root, line.Name1), line.K1, line.Rot1, resize, warn);
            return new PosePair($"{line.Name0} {line.Name1}", gray0, gray1, k0, k1, PoseCameras.RotatePose(line.T0to1, line.Rot0, line.Rot1));
        }
        catch { gray0.Dispose(); throw; }
    }

    // Resize first (K scaled in the stored image's frame), then turn: SuperGlue's order. SuperGlue scales K with the
    // scales swapped for odd turns, which differs only for an anisotropic resize of a turned image; this scales it right.
    private static (TorchSharp.torch.Tensor gray, double[] k) Image(string path, double[] k, int rot, PoseResize resize, Action<string> warn)
    {
        using var scope = torch.NewDisposeScope();
        var gray = OpenCv.ReadImage(path, warn: w => warn($"image '{path}': {w}"), minSide: CappedExtractor.MinSide);
        int w = (int)gray.size(1), h = (int)gray.size(0);
        var (nw, nh) = resize.Apply(w, h);
        if (nw != w || nh != h)
        {
            gray = OpenCv.Resize(gray, nw, nh);
            k = PoseCameras.Scale(k, (double)nw / w, (double)nh / h);
        }
        if (rot != 0)
        {
            gray = OpenCv.Rot90(gray, rot);
            k = PoseCameras.Rotate(k, nw, nh, rot);
        }
        return (gray.DetachFromDisposeScope(), k);
    }
}
