using System.Text.Json.Serialization;

namespace LocalFeat.Train.Settings;

/// <summary>Training recipes (<c>run.recipe</c>).</summary>
public enum Recipe
{
    /// <summary>D2-Net: D2 soft detection and the hardest-negative margin loss.</summary>
    [JsonStringEnumMemberName("d2net")] D2net,
}
