using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Ops;

public static partial class EmaUpdate
{
    /// <summary>The per-tensor loop (two or three libtorch calls per tensor): the oracle and the baseline.</summary>
    internal static void Reference(IReadOnlyList<Tensor> target, IReadOnlyList<Tensor> online, double tau)
    {
        for (int i = 0; i < target.Count; i++)
        {
            using var scaled = online[i].mul(1 - tau);
            target[i].mul_(tau).add_(scaled);
        }
    }
}
