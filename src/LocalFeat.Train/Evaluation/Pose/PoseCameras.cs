using LocalFeat.Train.Data;

namespace LocalFeat.Train.Evaluation.Pose;

/// <summary>
/// Intrinsics and relative pose under the image changes of SuperGlue's pairs reader: a resize scales K, a quarter
/// turn of an image (numpy's rot90, counter-clockwise) turns K and the camera's frame. Matrices row-major.
/// </summary>
public static class PoseCameras
{
    /// <summary>K of an image resized by <paramref name="sx"/>, <paramref name="sy"/> (new size / old size): SuperGlue's scale_intrinsics, diag(sx, sy, 1)·K.</summary>
    public static double[] Scale(double[] k, double sx, double sy) =>
        [k[0] * sx, k[1] * sx, k[2] * sx, k[3] * sy, k[4] * sy, k[5] * sy, k[6], k[7], k[8]];

    /// <summary>
    /// K after rot90(image, <paramref name="rot"/>) of a <paramref name="width"/>×<paramref name="height"/> image
    /// (SuperGlue's rotate_intrinsics): a pixel (x, y) moves to (y, w−1−x), (w−1−x, h−1−y), (h−1−y, x) for rot = 1, 2, 3.
    /// </summary>
    public static double[] Rotate(double[] k, int width, int height, int rot)
    {
        double fx = k[0], fy = k[4], cx = k[2], cy = k[5];
        return (rot % 4) switch
        {
            0 => (double[])k.Clone(),
            1 => [fy, 0, cy, 0, fx, width - 1 - cx, 0, 0, 1],
            2 => [fx, 0, width - 1 - cx, 0, fy, height - 1 - cy, 0, 0, 1],
            _ => [fy, 0, height - 1 - cy, 0, fx, cx, 0, 0, 1],
        };
    }

    /// <summary>The camera-frame rotation that goes with rot90(image, rot): about the optical axis by −90°·rot (SuperGlue's rotate_pose_inplane).</summary>
    public static double[] InPlane(int rot)
    {
        var r = Homography.Rotation(-Math.PI / 2 * (rot % 4));
        return r.Select(v => Math.Round(v)).ToArray();  // exact quarter turns: entries 0, ±1
    }

    /// <summary>T_0to1 when image 0 is turned by <paramref name="rot0"/> and image 1 by <paramref name="rot1"/>: Rz1·T·Rz0⁻¹.</summary>
    public static double[] RotatePose(double[] t0to1, int rot0, int rot1)
    {
        var (r, t) = Split(t0to1);
        double[] z0 = InPlane(rot0), z1 = InPlane(rot1);
        var r2 = Homography.Chain(z1, r, Transpose(z0));
        var t2 = Apply(z1, t);
        return Compose(r2, t2);
    }

    /// <summary>(R row-major 3×3, t) of a row-major 4×4 rigid transform.</summary>
    public static (double[] r, double[] t) Split(double[] t4) =>
        ([t4[0], t4[1], t4[2], t4[4], t4[5], t4[6], t4[8], t4[9], t4[10]], [t4[3], t4[7], t4[11]]);

    /// <summary>The row-major 4×4 [R t; 0 1].</summary>
    public static double[] Compose(double[] r, double[] t) =>
        [r[0], r[1], r[2], t[0], r[3], r[4], r[5], t[1], r[6], r[7], r[8], t[2], 0, 0, 0, 1];

    public static double[] Transpose(double[] m) => [m[0], m[3], m[6], m[1], m[4], m[7], m[2], m[5], m[8]];

    public static double[] Apply(double[] m, double[] v) =>
        [m[0] * v[0] + m[1] * v[1] + m[2] * v[2], m[3] * v[0] + m[4] * v[1] + m[5] * v[2], m[6] * v[0] + m[7] * v[1] + m[8] * v[2]];
}
