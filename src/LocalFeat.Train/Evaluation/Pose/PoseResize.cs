using System.Globalization;
using LocalFeat.Train.Training;

namespace LocalFeat.Train.Evaluation.Pose;

/// <summary>
/// SuperGlue's <c>--resize</c> of pose-pair images (<c>eval.pose_resize</c>): "WxH" resizes to exactly W×H, "N" makes
/// the longer side N (aspect kept), "none" keeps the images as they are.
/// </summary>
public sealed record PoseResize(int Width, int Height, int LongerSide)
{
    public static readonly PoseResize None = new(0, 0, 0);

    public bool IsNone => Width == 0 && LongerSide == 0;

    /// <summary>The new size of a <paramref name="w"/>×<paramref name="h"/> image (SuperGlue's process_resize; Python's round, half to even).</summary>
    public (int w, int h) Apply(int w, int h)
    {
        if (Width > 0) return (Width, Height);
        if (LongerSide == 0) return (w, h);
        double scale = (double)LongerSide / Math.Max(w, h);
        return ((int)Math.Round(w * scale, MidpointRounding.ToEven), (int)Math.Round(h * scale, MidpointRounding.ToEven));
    }

    public override string ToString() => Width > 0 ? $"{Width}x{Height}" : LongerSide > 0 ? LongerSide.ToString(CultureInfo.InvariantCulture) : "none";

    /// <exception cref="ConfigException">anything but "none", "N" or "WxH" with sides in [16, 16384].</exception>
    public static PoseResize Parse(string? text, string key = "eval.pose_resize")
    {
        string t = (text ?? "").Trim().ToLowerInvariant();
        if (t is "none" or "-1") return None;
        static bool Side(string s, out int v) => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v) && v is >= 16 and <= 16384;
        var parts = t.Split('x');
        if (parts.Length == 1 && Side(parts[0], out int n)) return new PoseResize(0, 0, n);
        if (parts.Length == 2 && Side(parts[0], out int w) && Side(parts[1], out int h)) return new PoseResize(w, h, 0);
        throw new ConfigException($"config '{key}': expected \"WxH\" (exact size), \"N\" (longer side) with sides in [16, 16384], or \"none\", got '{text}'");
    }
}
