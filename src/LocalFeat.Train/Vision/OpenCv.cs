using System.Runtime.InteropServices;
using OpenCvSharp;
using OpenCvSharp.Features2D;
using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Train.Vision;

/// <summary>
/// The console's OpenCV calls through OpenCvSharp: images to and from uint8 tensors, SIFT/ORB, RANSAC homographies,
/// FileStorage matrices. OpenCV failures become <see cref="InvalidDataException"/>s naming the call and the reason.
/// </summary>
public static class OpenCv
{
    /// <summary>OpenCV's version string.</summary>
    public static string Version => Cv2.GetVersionString() ?? "unknown";

    /// <summary>Where library messages go when a call is given no warning sink (the console sets it at start).</summary>
    public static Action<string> DefaultWarn { get; private set; } = text => Console.Error.WriteLine("warning: " + text);

    /// <summary>
    /// OpenCV's own <c>[ WARN:...]</c> log is silenced (its warnings on reads are reported by the console per image);
    /// what decoders print during a read reaches <paramref name="warn"/> instead of the terminal.
    /// </summary>
    public static void RouteLibraryWarnings(Action<string> warn)
    {
        DefaultWarn = warn;
        Cv2.SetLogLevel(LogLevel.ERROR);
    }

    /// <summary>
    /// A grey uint8 [H,W] image, or RGB [H,W,3] when <paramref name="color"/>. Decoder messages (a truncated JPEG:
    /// "Corrupt JPEG data: premature end of data segment") go to <paramref name="warn"/>; an image whose shorter side is
    /// under <paramref name="minSide"/> px is refused.
    /// </summary>
    /// <exception cref="InvalidDataException">missing, undecodable or too small file.</exception>
    public static Tensor ReadImage(string path, bool color = false, Action<string>? warn = null, int minSide = 0)
    {
        if (!File.Exists(path)) throw new InvalidDataException($"cv::imread('{path}'): file not found or not readable");
        var m = NativeStderr.Capture(() => Call("imread", path, () => Cv2.ImRead(path, color ? ImreadModes.Color : ImreadModes.Grayscale)), out string native);
        using (m)
        {
            var said = native.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(l => LogPrefix.Replace(l, "")).ToList();
            // Unreadable: what the decoder said belongs to the one error; decoded despite it (a truncated JPEG): a warning.
            if (m.Empty()) throw new InvalidDataException($"cv::imread('{path}'): not a readable image file{(said.Count > 0 ? $" (decoder: {string.Join("; ", said)})" : "")}");
            foreach (var line in said) (warn ?? (t => DefaultWarn($"'{path}': {t}")))($"decoder: {line}");
            if (Math.Min(m.Rows, m.Cols) < minSide)
                throw new InvalidDataException($"cv::imread('{path}'): {m.Cols}×{m.Rows} px, expected at least {minSide} px on the shorter side");
            if (color) Cv2.CvtColor(m, m, ColorConversionCodes.BGR2RGB);
            return ToTensor(m);
        }
    }

    // "[ WARN:0@0.012] global loadsave.cpp (123) imread_ " in front of an OpenCV log line.
    private static readonly System.Text.RegularExpressions.Regex LogPrefix = new(@"^\[\s*[A-Z]+:[^\]]*\]\s*(global\s+)?(\S+\s+\(\d+\)\s+\S+\s+)?");

    /// <summary>
    /// A grey uint8 [H,W] image shrunk (area interpolation) so that its longer side is at most <paramref name="maxSide"/>;
    /// the same tensor when it already is. <paramref name="sx"/>, <paramref name="sy"/>: new size / old size per axis.
    /// </summary>
    public static Tensor Shrink(Tensor gray, int maxSide, out double sx, out double sy)
    {
        long h = gray.size(0), w = gray.size(1), longer = Math.Max(h, w);
        sx = sy = 1;
        if (longer <= maxSide) return gray;
        double scale = (double)maxSide / longer;
        int nw = Math.Max(1, (int)Math.Round(w * scale)), nh = Math.Max(1, (int)Math.Round(h * scale));
        using var m = ToMat(gray);
        using var small = new Mat();
        Cv2.Resize(m, small, new OpenCvSharp.Size(nw, nh), 0, 0, InterpolationFlags.Area);
        (sx, sy) = ((double)nw / w, (double)nh / h);
        return ToTensor(small);
    }

    /// <summary>Writes a uint8 [H,W] grey or [H,W,3] RGB tensor; the format follows the extension.</summary>
    public static void WriteImage(string path, Tensor image)
    {
        using var m = ToMat(image);
        if (m.Channels() == 3) Cv2.CvtColor(m, m, ColorConversionCodes.RGB2BGR);
        WriteMat(path, m);
    }

    /// <summary>Writes a Mat (BGR when 3 channels).</summary>
    public static void WriteMat(string path, Mat bgr)
    {
        bool ok = Call("imwrite", path, () => Cv2.ImWrite(path, bgr));
        if (!ok) throw new InvalidDataException($"cv::imwrite('{path}'): cannot write the image (unknown extension, unwritable folder or full disk)");
    }

    /// <summary>A Mat copy of a contiguous CPU uint8 tensor [H,W] or [H,W,3].</summary>
    public static Mat ToMat(Tensor image)
    {
        if (image.dtype != ScalarType.Byte) throw new ArgumentException($"argument 'image': expected uint8, got {image.dtype}", nameof(image));
        bool color = image.dim() == 3 && image.size(2) == 3;
        if (!color && image.dim() != 2) throw new ArgumentException($"argument 'image': expected [H,W] or [H,W,3], got [{string.Join(", ", image.shape)}]", nameof(image));
        var bytes = image.cpu().contiguous().Values<byte>();
        var m = new Mat((int)image.size(0), (int)image.size(1), color ? MatType.CV_8UC3 : MatType.CV_8UC1);
        if (bytes.Length > 0) Marshal.Copy(bytes, 0, m.Data, bytes.Length);
        return m;
    }

    /// <summary>A uint8 tensor [H,W] or [H,W,C] copy of an 8-bit Mat.</summary>
    public static Tensor ToTensor(Mat m)
    {
        using var c = m.Clone();  // continuous, whatever m is
        int ch = c.Channels();
        var bytes = new byte[(long)c.Rows * c.Cols * ch];
        if (bytes.Length > 0) Marshal.Copy(c.Data, bytes, 0, bytes.Length);
        return ch == 1 ? torch.tensor(bytes, new long[] { c.Rows, c.Cols }) : torch.tensor(bytes, new long[] { c.Rows, c.Cols, ch });
    }

    /// <summary>
    /// SIFT or ORB on a grey uint8 [H,W] image, at most <paramref name="budget"/> keypoints (OpenCV keeps the
    /// strongest). Returns keypoints float32 [N,4] (x, y, size, response) and descriptors (float32 [N,128] or uint8 [N,32]).
    /// </summary>
    public static (Tensor keypoints, Tensor descriptors) Detect(Tensor gray, ClassicalFeature kind, int budget)
    {
        if (budget < 1) throw new ArgumentException($"argument 'budget': expected ≥ 1, got {budget}", nameof(budget));
        using var m = ToMat(gray);
        if (m.Channels() == 3) Cv2.CvtColor(m, m, ColorConversionCodes.RGB2GRAY);
        using Feature2D f = kind == ClassicalFeature.Sift ? SIFT.Create(budget) : ORB.Create(budget);
        using var desc = new Mat();
        KeyPoint[] kps = [];
        Call("detectAndCompute", kind.ToString(), () => { f.DetectAndCompute(m, null, out kps, desc); return 0; });
        var k = new float[kps.Length * 4];
        for (int i = 0; i < kps.Length; i++) { k[4 * i] = kps[i].Pt.X; k[4 * i + 1] = kps[i].Pt.Y; k[4 * i + 2] = kps[i].Size; k[4 * i + 3] = kps[i].Response; }
        int width = kind == ClassicalFeature.Sift ? 128 : 32;
        Tensor d;
        if (kps.Length == 0) d = torch.zeros(new long[] { 0, width }, kind == ClassicalFeature.Sift ? ScalarType.Float32 : ScalarType.Byte);
        else if (kind == ClassicalFeature.Sift)
        {
            if (desc.Cols != 128) throw new InvalidDataException($"cv::SIFT returned descriptors of width {desc.Cols}");
            desc.GetArray(out float[] v);
            d = torch.tensor(v, new long[] { kps.Length, 128 });
        }
        else d = ToTensor(desc);
        return (torch.tensor(k, new long[] { kps.Length, 4 }), d);
    }

    /// <summary>
    /// The RANSAC homography (row-major 3×3) mapping <paramref name="src"/> onto <paramref name="dst"/> (x, y
    /// interleaved), or null with fewer than 4 points or when OpenCV finds none; <paramref name="inliers"/> (length n) receives the mask.
    /// </summary>
    public static double[]? FindHomography(double[] src, double[] dst, double threshold, bool[]? inliers = null)
    {
        int n = src.Length / 2;
        if (dst.Length != src.Length) throw new ArgumentException($"argument 'dst': expected {src.Length} values as src, got {dst.Length}", nameof(dst));
        if (n < 4) return null;
        var a = Enumerable.Range(0, n).Select(i => new Point2d(src[2 * i], src[2 * i + 1]));
        var b = Enumerable.Range(0, n).Select(i => new Point2d(dst[2 * i], dst[2 * i + 1]));
        using var mask = new Mat();
        using var h = Call("findHomography", $"{n} points", () => Cv2.FindHomography(a, b, HomographyMethods.Ransac, threshold, mask));
        if (h.Empty()) return null;
        var result = new double[9];
        for (int i = 0; i < 9; i++) result[i] = h.At<double>(i / 3, i % 3);
        if (inliers != null) for (int i = 0; i < n; i++) inliers[i] = mask.At<byte>(i) != 0;
        return result;
    }

    /// <summary>A grey uint8 [H,W] image resized to <paramref name="width"/>×<paramref name="height"/> by bilinear interpolation (cv::resize's default, as SuperGlue reads its pairs).</summary>
    public static Tensor Resize(Tensor gray, int width, int height)
    {
        using var m = ToMat(gray);
        using var resized = new Mat();
        Call("resize", $"{width}x{height}", () => { Cv2.Resize(m, resized, new OpenCvSharp.Size(width, height), 0, 0, InterpolationFlags.Linear); return 0; });
        return ToTensor(resized);
    }

    /// <summary>An image [H,W] or [H,W,C] turned by <paramref name="quarterTurns"/> × 90° counter-clockwise, as numpy's <c>rot90(image, k)</c>.</summary>
    public static Tensor Rot90(Tensor image, int quarterTurns)
    {
        int k = ((quarterTurns % 4) + 4) % 4;
        if (k == 0) return image.alias();
        using var m = ToMat(image);
        using var turned = new Mat();
        var code = k switch { 1 => RotateFlags.Rotate90Counterclockwise, 2 => RotateFlags.Rotate180, _ => RotateFlags.Rotate90Clockwise };
        Cv2.Rotate(m, turned, code);
        return ToTensor(turned);
    }

    /// <summary>
    /// cv::findEssentialMat with RANSAC and the identity camera (points already normalised, x/y interleaved): the
    /// candidate essential matrices (row-major 3×3 each; OpenCV may stack several) and the inlier mask, or none.
    /// </summary>
    public static List<double[]> FindEssentialMat(double[] points0, double[] points1, double threshold, double confidence, bool[] inliers)
    {
        int n = points0.Length / 2;
        if (points1.Length != points0.Length) throw new ArgumentException($"argument 'points1': expected {points0.Length} values as points0, got {points1.Length}", nameof(points1));
        if (inliers.Length != n) throw new ArgumentException($"argument 'inliers': expected length {n}, got {inliers.Length}", nameof(inliers));
        using var a = PointMat(points0);
        using var b = PointMat(points1);
        using var eye = Mat.Eye(3, 3, MatType.CV_64FC1).ToMat();
        using var mask = new Mat();
        using var e = Call("findEssentialMat", $"{n} points", () => Cv2.FindEssentialMat(a, b, eye, EssentialMatMethod.Ransac, confidence, threshold, mask));
        var result = new List<double[]>();
        int rows = e.Rows;
        if (e.Empty() || e.Cols != 3) return result;
        for (int s = 0; s + 3 <= rows; s += 3)
        {
            var one = new double[9];
            for (int i = 0; i < 9; i++) one[i] = e.At<double>(s + i / 3, i % 3);
            result.Add(one);
        }
        for (int i = 0; i < n; i++) inliers[i] = !mask.Empty() && mask.At<byte>(i) != 0;
        return result;
    }

    /// <summary>
    /// cv::recoverPose of one essential matrix on normalised points (identity camera, distance threshold
    /// <paramref name="distanceThreshold"/>) restricted to <paramref name="mask"/>: the points passing the cheirality
    /// check, R (row-major 3×3) and the unit translation t.
    /// </summary>
    public static (int count, double[] r, double[] t) RecoverPose(double[] essential, double[] points0, double[] points1, bool[] mask, double distanceThreshold)
    {
        int n = points0.Length / 2;
        using var a = PointMat(points0);
        using var b = PointMat(points1);
        using var eye = Mat.Eye(3, 3, MatType.CV_64FC1).ToMat();
        using var e = new Mat(3, 3, MatType.CV_64FC1);
        Marshal.Copy(essential, 0, e.Data, 9);
        using var m = new Mat(n, 1, MatType.CV_8UC1);
        Marshal.Copy(mask.Select(v => v ? (byte)1 : (byte)0).ToArray(), 0, m.Data, n);
        using var r = new Mat();
        using var t = new Mat();
        using var points3d = new Mat();
        int count = Call("recoverPose", $"{n} points", () => Cv2.RecoverPose(e, a, b, eye, r, t, distanceThreshold, m, points3d));
        var rv = new double[9];
        for (int i = 0; i < 9; i++) rv[i] = r.At<double>(i / 3, i % 3);
        return (count, rv, [t.At<double>(0), t.At<double>(1), t.At<double>(2)]);
    }

    // N×1 two-channel double points, the layout OpenCV's calib3d functions take.
    private static Mat PointMat(double[] xy)
    {
        var m = new Mat(xy.Length / 2, 1, MatType.CV_64FC2);
        if (xy.Length > 0) Marshal.Copy(xy, 0, m.Data, xy.Length);
        return m;
    }

    /// <summary>A rows×cols matrix (the first top-level node) of an OpenCV FileStorage file (XML/YAML/JSON), row-major.</summary>
    public static double[] ReadMatrix(string path, int rows, int cols)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"cv::FileStorage: '{path}' not found", path);
        using var fs = Call("FileStorage", path, () => new FileStorage(path, FileStorage.Modes.Read));
        if (!fs.IsOpened()) throw new InvalidDataException($"cv::FileStorage('{path}'): cannot open it as an OpenCV FileStorage file");
        using var root = fs.Root();
        using var node = root?.FirstOrDefault() ?? throw new InvalidDataException($"cv::FileStorage('{path}'): no matrix node");
        using var m = node.ReadMat();
        if (m.Rows != rows || m.Cols != cols) throw new InvalidDataException($"cv::FileStorage('{path}'): expected a {rows}x{cols} matrix, got {m.Rows}x{m.Cols}");
        using var d = new Mat();
        m.ConvertTo(d, MatType.CV_64F);
        var result = new double[rows * cols];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) result[r * cols + c] = d.At<double>(r, c);
        return result;
    }

    private static T Call<T>(string call, string what, Func<T> body)
    {
        try { return body(); }
        catch (OpenCVException e) { throw new InvalidDataException($"cv::{call}({what}): {e.ErrMsg}", e); }
        catch (OpenCvSharpException e) { throw new InvalidDataException($"cv::{call}({what}): {e.Message}", e); }
    }
}
