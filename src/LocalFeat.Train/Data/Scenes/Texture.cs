namespace LocalFeat.Train.Data.Scenes;

/// <summary>A grey photo as a row-major float array in [0,1], sampled bilinearly with mirrored borders (grid_sample's
/// "reflection" with align_corners: pixel centres at integers), so an unbounded plane is textured everywhere.</summary>
public sealed class Texture(float[] values, int width, int height, string name)
{
    public float[] Values { get; } = values;
    public int Width { get; } = width;
    public int Height { get; } = height;
    public string Name { get; } = name;

    public static Texture FromTensor(TorchSharp.torch.Tensor image01, string name)
    {
        // [1,1,H,W] or [H,W] float in [0,1]
        var t = image01.to(TorchSharp.torch.ScalarType.Float32).contiguous();
        int h = (int)t.size(-2), w = (int)t.size(-1);
        return new Texture(t.data<float>().ToArray(), w, h, name);
    }

    public float Sample(double x, double y)
    {
        x = Mirror(x, Width);
        y = Mirror(y, Height);
        int x0 = Math.Min((int)x, Width - 2 < 0 ? 0 : Width - 2), y0 = Math.Min((int)y, Height - 2 < 0 ? 0 : Height - 2);
        int x1 = Math.Min(x0 + 1, Width - 1), y1 = Math.Min(y0 + 1, Height - 1);
        double fx = x - x0, fy = y - y0;
        var v = Values;
        double top = v[y0 * Width + x0] * (1 - fx) + v[y0 * Width + x1] * fx;
        double bottom = v[y1 * Width + x0] * (1 - fx) + v[y1 * Width + x1] * fx;
        return (float)(top * (1 - fy) + bottom * fy);
    }

    private static double Mirror(double c, int size)
    {
        double last = size - 1;
        if (last <= 0) return 0;
        if (c >= 0 && c <= last) return c;
        double period = 2 * last;
        c = Math.Abs(c) % period;
        return c > last ? period - c : c;
    }
}
