namespace LocalFeat.Train.Data.Scenes;

/// <summary>3×3 matrices as row-major double[9]: rotations and their products (poses are X_cam = R·(X − C)).</summary>
public static class Rotation3
{
    public static double[] Identity() => [1, 0, 0, 0, 1, 0, 0, 0, 1];

    public static Vec3 Apply(double[] m, Vec3 v) =>
        new(m[0] * v.X + m[1] * v.Y + m[2] * v.Z, m[3] * v.X + m[4] * v.Y + m[5] * v.Z, m[6] * v.X + m[7] * v.Y + m[8] * v.Z);

    /// <summary>mᵀ·v (the inverse of a rotation).</summary>
    public static Vec3 ApplyTransposed(double[] m, Vec3 v) =>
        new(m[0] * v.X + m[3] * v.Y + m[6] * v.Z, m[1] * v.X + m[4] * v.Y + m[7] * v.Z, m[2] * v.X + m[5] * v.Y + m[8] * v.Z);

    /// <summary>Rodrigues: the rotation by <paramref name="radians"/> about the unit <paramref name="axis"/>.</summary>
    public static double[] AxisAngle(Vec3 axis, double radians)
    {
        var (x, y, z) = axis.Normalized();
        double c = Math.Cos(radians), s = Math.Sin(radians), k = 1 - c;
        return
        [
            c + x * x * k, x * y * k - z * s, x * z * k + y * s,
            y * x * k + z * s, c + y * y * k, y * z * k - x * s,
            z * x * k - y * s, z * y * k + x * s, c + z * z * k,
        ];
    }

    /// <summary>The rotation (rows = camera x, y, z axes in the world) of a camera at <paramref name="centre"/> looking at
    /// <paramref name="target"/>, OpenCV axes (x right, y down, z forward) with the world's y as "down".</summary>
    public static double[] LookAt(Vec3 centre, Vec3 target)
    {
        var f = (target - centre).Normalized();
        var x = new Vec3(0, 1, 0).Cross(f).Normalized();
        var y = f.Cross(x);
        return [x.X, x.Y, x.Z, y.X, y.Y, y.Z, f.X, f.Y, f.Z];
    }

    /// <summary>The angle of a rotation matrix in degrees.</summary>
    public static double AngleDeg(double[] r) => Math.Acos(Math.Clamp((r[0] + r[4] + r[8] - 1) / 2, -1, 1)) * 180 / Math.PI;
}
