using TorchSharp;
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

    /// <summary>The keypoints that lie on a true pixel of <paramref name="valid"/> (bool [H,W]; nearest pixel), as a new set.</summary>
    public FeatureSet Inside(Tensor valid)
    {
        var mask = valid.to(ScalarType.Bool).contiguous().data<bool>();
        long h = valid.size(0), w = valid.size(1);
        var keep = Enumerable.Range(0, Count).Where(i =>
        {
            long x = (long)Math.Round(X[i]), y = (long)Math.Round(Y[i]);
            return x >= 0 && y >= 0 && x < w && y < h && mask[y * w + x];
        }).ToArray();
        using var index = torch.tensor(keep.Select(i => (long)i).ToArray());
        return new FeatureSet
        {
            X = keep.Select(i => X[i]).ToArray(), Y = keep.Select(i => Y[i]).ToArray(),
            Scale = keep.Select(i => Scale[i]).ToArray(), Score = keep.Select(i => Score[i]).ToArray(),
            Descriptors = Descriptors.index_select(0, index).contiguous(), Binary = Binary,
        };
    }

    public void Dispose() => Descriptors.Dispose();
}
