using System.Runtime.InteropServices;

namespace LocalFeat.Torch.Interop;

// P/Invoke surface of native/lft_vision.cpp (OpenCV features, RANSAC, FileStorage, drawing).
internal static unsafe partial class Native
{
    [LibraryImport(Lib)] public static partial int lft_vision_detect(IntPtr image, int kind, int maxFeatures, out IntPtr keypoints, out IntPtr descriptors);
    [LibraryImport(Lib)] public static partial int lft_vision_find_homography(double* src, double* dst, int n, double threshold, double* h, out int found, byte* inliers);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] public static partial int lft_vision_read_matrix(string path, string? name, int rows, int cols, double* result);
    [LibraryImport(Lib)] public static partial int lft_vision_draw_line(IntPtr image, double x0, double y0, double x1, double y1, int r, int g, int b, int thickness);
    [LibraryImport(Lib)] public static partial int lft_vision_draw_circle(IntPtr image, double x, double y, double radius, int r, int g, int b, int thickness);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] public static partial int lft_vision_draw_text(IntPtr image, string text, double x, double y, double scale, int r, int g, int b);
}
