namespace LocalFeat.Train.Evaluation.Pose;

/// <summary>SuperGlue's compute_pose_error: angular errors in degrees of an estimated (R, t) against T_0to1.</summary>
public static class PoseError
{
    /// <summary>The angle of R_estᵀ·R_true: arccos((trace − 1) / 2), clipped to [−1, 1].</summary>
    public static double Rotation(double[] estimate, double[] truth)
    {
        double trace = 0;
        for (int i = 0; i < 3; i++) for (int k = 0; k < 3; k++) trace += estimate[3 * k + i] * truth[3 * k + i];
        return Degrees(Math.Acos(Math.Clamp((trace - 1) / 2, -1, 1)));
    }

    /// <summary>The angle between the directions, up to sign (an essential matrix fixes t only up to scale and sign): min(θ, 180° − θ).</summary>
    public static double Translation(double[] estimate, double[] truth)
    {
        double dot = estimate[0] * truth[0] + estimate[1] * truth[1] + estimate[2] * truth[2];
        double n = Math.Sqrt(estimate.Sum(v => v * v) * truth.Sum(v => v * v));
        double angle = Degrees(Math.Acos(Math.Clamp(dot / n, -1, 1)));
        return Math.Min(angle, 180 - angle);
    }

    /// <summary>(rotation error, translation error) of (R, t) against the row-major 4×4 <paramref name="t0to1"/>.</summary>
    public static (double r, double t) Of(double[] t0to1, double[] r, double[] t)
    {
        var (rTrue, tTrue) = PoseCameras.Split(t0to1);
        return (Rotation(r, rTrue), Translation(t, tTrue));
    }

    private static double Degrees(double radians) => radians * 180 / Math.PI;
}
