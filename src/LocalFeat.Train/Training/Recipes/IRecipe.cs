using LocalFeat.Train.Data;
using LocalFeat.Train.Settings;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LocalFeat.Train.Training.Recipes;

/// <summary>
/// One way to train the FeatureNet: the loss of a batch, the modules it trains besides the network, the state it carries from
/// step to step (checkpointed with the run), and what it does after each optimizer step. The model used by eval and extract
/// is always the FeatureNet.
/// </summary>
public interface IRecipe : IDisposable
{
    Recipe Kind { get; }

    /// <summary>Trainable parameters besides the FeatureNet's (TPR's projector and predictor); the optimizer steps them too.</summary>
    IReadOnlyList<Parameter> ExtraParameters { get; }

    /// <summary>Modules and buffers the recipe carries between steps, saved as recipe.safetensors in each checkpoint; null when it has none.</summary>
    nn.Module? State { get; }

    /// <summary>The loss of one batch (a scalar with a graph) and the number of pairs that contributed.</summary>
    (Tensor loss, int pairs) BatchLoss(Batch batch, long step);

    /// <summary>Called after the optimizer step of <paramref name="step"/> (0-based): EMA updates.</summary>
    void AfterStep(long step) { }

    /// <summary>Copies live state that is not a module buffer (the DIW histogram) into <see cref="State"/> before it is saved.</summary>
    void BeforeSave() { }

    /// <summary>Takes the state back from <see cref="State"/> after a checkpoint was loaded into it.</summary>
    void AfterLoad() { }
}
