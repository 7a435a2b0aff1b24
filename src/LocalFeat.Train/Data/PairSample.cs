using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LocalFeat.Train.Data;

/// <summary>One training pair: two grey crops in [0,1] and the homography mapping crop-1 pixels to crop-2 pixels.</summary>
public sealed record PairSample(Tensor Image1, Tensor Image2, double[] H12, string Source) : IDisposable
{
    public void Dispose() { Image1.Dispose(); Image2.Dispose(); }
}
