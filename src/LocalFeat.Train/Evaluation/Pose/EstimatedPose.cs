namespace LocalFeat.Train.Evaluation.Pose;

/// <summary>A relative pose from matches: R (row-major 3×3), unit t, and the RANSAC inlier mask over the matches.</summary>
public sealed record EstimatedPose(double[] R, double[] T, bool[] Inliers)
{
    public int InlierCount => Inliers.Count(v => v);
}
