using static TorchSharp.torch;

namespace LocalFeat.Train.Data;

/// <summary>
/// One training pair as the loss sees it: two grey crops [1,S,S] in [0,1], their grid correspondences, and either the
/// homography (homography pairs) or the 3-D points of every feature cell (scene pairs, [h,w,3] in camera 2's frame).
/// </summary>
public sealed class TrainingPair : IDisposable
{
    public required Tensor Image1 { get; init; }
    public required Tensor Image2 { get; init; }
    public required Correspondences Matches { get; init; }
    public double[]? H12 { get; init; }
    public Tensor? Points1 { get; init; }
    public Tensor? Points2 { get; init; }
    public required string Source { get; init; }

    public void Dispose()
    {
        Image1.Dispose();
        Image2.Dispose();
        Matches.Dispose();
        Points1?.Dispose();
        Points2?.Dispose();
    }
}
