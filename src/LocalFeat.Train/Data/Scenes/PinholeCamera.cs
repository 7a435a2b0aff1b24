namespace LocalFeat.Train.Data.Scenes;

/// <summary>
/// A pinhole camera: intrinsics (pixel centres at integer coordinates, as everywhere in LocalFeat) and pose
/// X_cam = R·(X_world − C), OpenCV axes (x right, y down, z forward). Depth is the z coordinate in the camera's frame.
/// </summary>
public sealed record PinholeCamera(double Fx, double Fy, double Cx, double Cy, double[] R, Vec3 C)
{
    /// <summary>A camera at the world origin looking along +z.</summary>
    public static PinholeCamera AtOrigin(double f, double cx, double cy) => new(f, f, cx, cy, Rotation3.Identity(), new Vec3(0, 0, 0));

    /// <summary>Row-major 3×3 K.</summary>
    public double[] K => [Fx, 0, Cx, 0, Fy, Cy, 0, 0, 1];

    /// <summary>The world direction of pixel (x, y) whose z in the camera frame is 1 (so a hit at λ has depth λ).</summary>
    public Vec3 Ray(double x, double y) => Rotation3.ApplyTransposed(R, new Vec3((x - Cx) / Fx, (y - Cy) / Fy, 1));

    public Vec3 ToCamera(Vec3 world) => Rotation3.Apply(R, world - C);

    /// <summary>Pixel of a camera-frame point (z &gt; 0 expected).</summary>
    public (double x, double y) Project(Vec3 cam) => (Fx * cam.X / cam.Z + Cx, Fy * cam.Y / cam.Z + Cy);

    /// <summary>The camera-frame point of pixel (x, y) at depth z.</summary>
    public Vec3 BackProject(double x, double y, double z) => new((x - Cx) / Fx * z, (y - Cy) / Fy * z, z);

    /// <summary>Relative pose camera a → camera b as row-major 4×4 [R t; 0 1]: X_b = R·X_a + t.</summary>
    public static double[] RelativePose(PinholeCamera a, PinholeCamera b)
    {
        // X_b = R_b (R_aᵀ X_a + C_a − C_b)
        var r = new double[9];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                r[3 * i + j] = b.R[3 * i] * a.R[3 * j] + b.R[3 * i + 1] * a.R[3 * j + 1] + b.R[3 * i + 2] * a.R[3 * j + 2];
        var t = Rotation3.Apply(b.R, a.C - b.C);
        return [r[0], r[1], r[2], t.X, r[3], r[4], r[5], t.Y, r[6], r[7], r[8], t.Z, 0, 0, 0, 1];
    }
}
