using System.Text.Json.Serialization;

namespace LocalFeat.Train.Settings;

/// <summary>Which VGG16 layers train (<c>model.finetune</c>).</summary>
public enum Finetune
{
    /// <summary>Only conv4_3, as D2-Net.</summary>
    [JsonStringEnumMemberName("conv4_3")] Conv4_3,
    /// <summary>Every convolution.</summary>
    All,
}
