using LocalFeat.Models;
using LocalFeat.Train.Settings;
using static TorchSharp.torch;

namespace LocalFeat.Train.Training.Recipes;

/// <summary>The recipe named by <c>run.recipe</c>.</summary>
public static class RecipeFactory
{
    public static IRecipe Create(FeatureNet model, TrainConfig config, Device device) => config.Run.Recipe switch
    {
        Recipe.D2net => new D2netRecipe(model, config, device),
        Recipe.Tasp => new TaspRecipe(model, config, device),
        Recipe.Hndesc => new HndescRecipe(model, config, device),
        Recipe.Tpr => new TprRecipe(model, config, device),
        _ => throw new ConfigException($"config 'run.recipe': expected one of {string.Join(" | ", TrainConfig.EnumNames(typeof(Recipe)))}, got {(int)config.Run.Recipe}"),
    };
}
