using LocalFeat.Torch.Interop;

namespace LocalFeat.Torch.Vision;

/// <summary>Classical detectors of OpenCV, used as baselines.</summary>
public enum ClassicalFeature { Sift = 0, Orb = 1 }

/// <summary>Classical vision through OpenCV: SIFT/ORB, RANSAC homographies, FileStorage matrices.</summary>
public static class Cv
{
    /// <summary>
    /// Keypoints float32 [N,4] (x, y, size, response) and descriptors (SIFT float32 [N,128], ORB uint8 [N,32])
    /// of a uint8 image [H,W] or [H,W,3]. <paramref name="maxFeatures"/> 0 = OpenCV's default (no limit for SIFT).
    /// </summary>
    public static (Tensor keypoints, Tensor descriptors) Detect(Tensor image, ClassicalFeature kind, int maxFeatures = 0)
    {
        Native.Check(Native.lft_vision_detect(image.Handle, (int)kind, maxFeatures, out IntPtr k, out IntPtr d));
        GC.KeepAlive(image);
        return (new Tensor(k), new Tensor(d));
    }

    /// <summary>
    /// OpenCV RANSAC homography mapping <paramref name="src"/> to <paramref name="dst"/> (x,y pairs), row-major 3×3,
    /// or null when none is found (fewer than 4 points or a degenerate set). Deterministic (OpenCV seeds its RNG).
    /// </summary>
    public static unsafe double[]? FindHomography(ReadOnlySpan<double> src, ReadOnlySpan<double> dst, double threshold, bool[]? inliers = null)
    {
        if (src.Length != dst.Length || src.Length % 2 != 0)
            throw new ArgumentException($"src and dst must hold the same number of (x,y) pairs, got {src.Length} and {dst.Length} values");
        int n = src.Length / 2;
        if (inliers != null && inliers.Length != n) throw new ArgumentException($"inliers must have {n} entries, got {inliers.Length}", nameof(inliers));
        var h = new double[9];
        var mask = new byte[Math.Max(n, 1)];
        int found;
        fixed (double* s = src, d = dst, hp = h)
        fixed (byte* m = mask)
            Native.Check(Native.lft_vision_find_homography(s, d, n, threshold, hp, out found, m));
        if (found == 0) return null;
        if (inliers != null) for (int i = 0; i < n; i++) inliers[i] = mask[i] != 0;
        return h;
    }

    /// <summary>A rows×cols matrix from an OpenCV FileStorage file (e.g. H1to3p.xml), row-major; name null = first node.</summary>
    public static unsafe double[] ReadMatrix(string path, int rows, int cols, string? name = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"matrix file not found: '{path}'", path);
        var m = new double[rows * cols];
        fixed (double* p = m) Native.Check(Native.lft_vision_read_matrix(path, name, rows, cols, p));
        return m;
    }
}

/// <summary>Anti-aliased drawing into a contiguous uint8 [H,W,3] RGB CPU tensor, in place.</summary>
public static class Draw
{
    public static void Line(Tensor image, double x0, double y0, double x1, double y1, (byte r, byte g, byte b) color, int thickness = 1) =>
        Native.Check(Native.lft_vision_draw_line(image.Handle, x0, y0, x1, y1, color.r, color.g, color.b, thickness));

    /// <summary>thickness −1 fills the circle.</summary>
    public static void Circle(Tensor image, double x, double y, double radius, (byte r, byte g, byte b) color, int thickness = 1) =>
        Native.Check(Native.lft_vision_draw_circle(image.Handle, x, y, radius, color.r, color.g, color.b, thickness));

    /// <summary>Text whose baseline starts at (x, y); scale 1 is about 22 px high. The Hershey font is ASCII only:
    /// arrows and the like are spelled out, other non-ASCII characters become '?'.</summary>
    public static void Text(Tensor image, string text, double x, double y, (byte r, byte g, byte b) color, double scale = 0.5) =>
        Native.Check(Native.lft_vision_draw_text(image.Handle, Ascii(text), x, y, scale, color.r, color.g, color.b));

    private static string Ascii(string text)
    {
        var sb = new System.Text.StringBuilder(text.Length);
        foreach (char ch in text.Replace("→", "->").Replace("×", "x").Replace("≤", "<=").Replace("≥", ">=").Replace("−", "-"))
            sb.Append(ch < 128 ? ch : '?');
        return sb.ToString();
    }
}
