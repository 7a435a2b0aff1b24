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

    /// <summary>A scene pair's crops with its correspondences and points (taken over; its views' depths are dropped).</summary>
    public static TrainingPair FromScene(Scenes.ScenePair pair, Scenes.DepthMatches matches) => new()
    {
        Image1 = pair.Image1, Image2 = pair.Image2, Matches = matches.Matches,
        Points1 = matches.Points1, Points2 = matches.Points2, Source = pair.Source,
    };

    public void Dispose()
    {
        Image1.Dispose();
        Image2.Dispose();
        Matches.Dispose();
        Points1?.Dispose();
        Points2?.Dispose();
    }
}
