using static TorchSharp.torch;

namespace LocalFeat.Train.Data.Scenes;

/// <summary>Correspondences from depth and pose with the 3-D point of every feature cell of both images (camera 2's frame).</summary>
public sealed class DepthMatches(Correspondences matches, Tensor points1, Tensor points2) : IDisposable
{
    public Correspondences Matches { get; } = matches;
    /// <summary>[h1,w1,3] float32: cell centre of image 1 back-projected with its depth, in camera 2's frame; NaN without depth.</summary>
    public Tensor Points1 { get; } = points1;
    /// <summary>[h2,w2,3] float32: cell centre of image 2 back-projected with its depth (camera 2's frame); NaN without depth.</summary>
    public Tensor Points2 { get; } = points2;

    /// <summary>Keeps every tensor past the dispose scope it was made in.</summary>
    public DepthMatches DetachFromDisposeScope()
    {
        Matches.Cells1.DetachFromDisposeScope();
        Matches.Pos2.DetachFromDisposeScope();
        Points1.DetachFromDisposeScope();
        Points2.DetachFromDisposeScope();
        return this;
    }

    public void Dispose() { Matches.Dispose(); Points1.Dispose(); Points2.Dispose(); }
}
