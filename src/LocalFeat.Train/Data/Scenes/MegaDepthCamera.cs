namespace LocalFeat.Train.Data.Scenes;

/// <summary>
/// One image's camera in a MegaDepth-style folder: <see cref="K"/> row-major 3×3 in COLMAP's pixel convention (the
/// top-left pixel's centre at (0.5, 0.5), as in D2-Net's scene_info and LoFTR's indices), and <see cref="Pose"/> row-major
/// 4×4 world → camera ([R t; 0 1], X_cam = R·X_world + t).
/// </summary>
public sealed record MegaDepthCamera(double[] K, double[] Pose)
{
    /// <summary>The camera of this image after it is scaled by (sx, sy) and cropped at (x0, y0), in LocalFeat's
    /// convention (pixel centres at integers: x = u − 0.5).</summary>
    public PinholeCamera ToPinhole(double sx, double sy, int x0, int y0)
    {
        double[] r = [Pose[0], Pose[1], Pose[2], Pose[4], Pose[5], Pose[6], Pose[8], Pose[9], Pose[10]];
        var t = new Vec3(Pose[3], Pose[7], Pose[11]);
        var centre = -1 * Rotation3.ApplyTransposed(r, t);  // C = −Rᵀt
        return new PinholeCamera(K[0] * sx, K[4] * sy, K[2] * sx - 0.5 - x0, K[5] * sy - 0.5 - y0, r, centre);
    }
}
