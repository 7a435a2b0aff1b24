using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Train.Training.Recipes;

/// <summary>The tasp recipe's checkpointed state: the DIW histogram as the buffer <c>diw_histogram</c> [bins] float32.</summary>
public sealed class DiwState : nn.Module
{
    public DiwState(int bins) : base(nameof(DiwState))
    {
        register_buffer("diw_histogram", torch.zeros(bins));
    }

    public Tensor Histogram => get_buffer("diw_histogram")!;
}
