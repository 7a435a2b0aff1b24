using System.Text.Json.Serialization;
using LocalFeat.Models;

namespace LocalFeat.Train.Settings;

/// <summary>The network and its initial weights (keys <c>model.*</c>).</summary>
public sealed record ModelSettings
{
    [JsonPropertyName("kind")] public FeatureNetKind Kind { get; set; } = FeatureNetKind.Tiny;
    [JsonPropertyName("vgg16_weights")] public string? Vgg16Weights { get; set; }
    [JsonPropertyName("finetune")] public Finetune Finetune { get; set; } = Finetune.Conv4_3;
}
