using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LocalFeat.Features;

/// <summary>
/// D2-Net's 3×3 finite differences of ReLU(features) [C,h,w] at given cells (zero padding): the Hessian that both
/// <see cref="HardDetection"/>'s edge test and <see cref="SubpixelRefinement"/>'s Newton step use, evaluated only at
/// those cells. Tensors belong to the caller's dispose scope.
/// </summary>
internal sealed class CellDerivatives
{
    private readonly Tensor _padded, _channels, _rows, _cols;

    /// <param name="activations">ReLU(features) [C,h,w].</param>
    /// <param name="channels">int64 [K].</param><param name="rows">int64 [K].</param><param name="cols">int64 [K].</param>
    public CellDerivatives(Tensor activations, Tensor channels, Tensor rows, Tensor cols)
    {
        (_padded, _channels, _rows, _cols) = (F.pad(activations, [1, 1, 1, 1]), channels, rows, cols);
        Value = At(0, 0);
        Dii = At(-1, 0) - 2 * Value + At(1, 0);
        Djj = At(0, -1) - 2 * Value + At(0, 1);
        Dij = (At(-1, -1) - At(-1, 1) - At(1, -1) + At(1, 1)) * 0.25;
    }

    /// <summary>The activation at each cell [K].</summary>
    public Tensor Value { get; }

    public Tensor Dii { get; }
    public Tensor Djj { get; }
    public Tensor Dij { get; }

    /// <summary>det H = Dii·Djj − Dij².</summary>
    public Tensor Det() => Dii * Djj - Dij * Dij;

    /// <summary>Central-difference gradient along rows and along columns.</summary>
    public (Tensor gi, Tensor gj) Gradient() => ((At(1, 0) - At(-1, 0)) * 0.5, (At(0, 1) - At(0, -1)) * 0.5);

    private Tensor At(long di, long dj) => _padded.index(_channels, _rows + (1 + di), _cols + (1 + dj));
}
