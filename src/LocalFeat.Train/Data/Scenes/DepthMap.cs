namespace LocalFeat.Train.Data.Scenes;

/// <summary>
/// A per-pixel depth map (z in the camera's frame, row-major; 0 or a non-finite value = no valid depth, as in
/// MegaDepth's maps). Pixel centres at integer coordinates.
/// </summary>
public sealed record DepthMap(int Width, int Height, float[] Values)
{
    public bool Valid(int x, int y) => Values[y * Width + x] is var z && z > 0 && float.IsFinite(z);

    /// <summary>
    /// Bilinear depth at (x, y) when all four neighbouring pixels are inside and valid (D2-Net's interpolate_depth),
    /// else NaN.
    /// </summary>
    public double Bilinear(double x, double y)
    {
        if (!(x >= 0 && y >= 0 && x <= Width - 1 && y <= Height - 1)) return double.NaN;
        int x0 = (int)Math.Floor(x), y0 = (int)Math.Floor(y);
        int x1 = (int)Math.Ceiling(x), y1 = (int)Math.Ceiling(y);
        if (!(Valid(x0, y0) && Valid(x1, y0) && Valid(x0, y1) && Valid(x1, y1))) return double.NaN;
        double fx = x - x0, fy = y - y0;
        var v = Values;
        double top = v[y0 * Width + x0] * (1 - fx) + v[y0 * Width + x1] * fx;
        double bottom = v[y1 * Width + x0] * (1 - fx) + v[y1 * Width + x1] * fx;
        return top * (1 - fy) + bottom * fy;
    }
}
