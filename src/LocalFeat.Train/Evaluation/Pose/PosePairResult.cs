namespace LocalFeat.Train.Evaluation.Pose;

/// <summary>One method on one pose pair: counts and the angular errors in degrees (+∞ when no pose was estimated).</summary>
public sealed record PosePairResult(string Pair, int Keypoints0, int Keypoints1, int Matches, int Inliers, double RotationError, double TranslationError)
{
    /// <summary>SuperGlue's pose error: the larger of the two angles.</summary>
    public double Error => Math.Max(RotationError, TranslationError);

    public bool Failed => double.IsPositiveInfinity(Error);

    public double InlierRatio => Matches == 0 ? 0 : Inliers / (double)Matches;
}
