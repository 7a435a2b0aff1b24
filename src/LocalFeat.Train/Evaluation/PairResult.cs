namespace LocalFeat.Train.Evaluation;

/// <summary>The measures of one method on one pair.</summary>
public sealed record PairResult(string Pair, int Keypoints1, int Keypoints2, int Matches, double[] Mma, double CornerError);
