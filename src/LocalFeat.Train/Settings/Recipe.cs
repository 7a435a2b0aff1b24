using System.Text.Json.Serialization;

namespace LocalFeat.Train.Settings;

/// <summary>Training recipes (<c>run.recipe</c>); each is a <see cref="Training.Recipes.IRecipe"/>.</summary>
public enum Recipe
{
    /// <summary>D2-Net: D2 soft detection and the hardest-negative margin loss.</summary>
    [JsonStringEnumMemberName("d2net")] D2net,
    /// <summary>TaSP: safe-window (3-D on scene pairs) hardest negatives, pHash intrinsic importance, DIW-weighted triplet and task-aligned keypoint losses.</summary>
    [JsonStringEnumMemberName("tasp")] Tasp,
    /// <summary>HNDesc: top-k hardest negatives from the other pairs of the batch, quantised AP loss.</summary>
    [JsonStringEnumMemberName("hndesc")] Hndesc,
    /// <summary>TPR: BYOL-style online/target networks with projector and predictor, soft labels, EMA target.</summary>
    [JsonStringEnumMemberName("tpr")] Tpr,
}
