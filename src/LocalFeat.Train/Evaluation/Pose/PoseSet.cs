namespace LocalFeat.Train.Evaluation.Pose;

/// <summary>
/// A named set of pose pairs for <see cref="PoseEvaluator"/>: <paramref name="Pairs"/> is enumerated once and each pair
/// is disposed after its evaluation, so a file's pairs are read one at a time.
/// </summary>
public sealed record PoseSet(string Name, int Count, IEnumerable<PosePair> Pairs)
{
    public static PoseSet Of(string name, IReadOnlyList<PosePair> pairs) => new(name, pairs.Count, pairs);
}
