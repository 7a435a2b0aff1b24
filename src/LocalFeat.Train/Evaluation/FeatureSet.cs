using static TorchSharp.torch;

namespace LocalFeat.Train.Evaluation;

/// <summary>Keypoints (pixels: x right, y down; pixel (x,y) is the centre of column x, row y) with scores and descriptors.</summary>
public sealed class FeatureSet : IDisposable
{
    public required float[] X { get; init; }
    public required float[] Y { get; init; }
    public required float[] Scale { get; init; }
    public required float[] Score { get; init; }
    /// <summary>[N,D] float32, or [N,B] uint8 bit-packed when <see cref="Binary"/> (compared by Hamming distance).</summary>
    public required Tensor Descriptors { get; init; }
    public bool Binary { get; init; }
    public int Count => X.Length;

    public void Dispose() => Descriptors.Dispose();
}
