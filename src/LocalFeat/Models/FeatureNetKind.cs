namespace LocalFeat.Models;

/// <summary>The architectures of <see cref="FeatureNet"/>.</summary>
public enum FeatureNetKind
{
    /// <summary>8-16-32-64-128 channels, stride 8, for training from scratch on a CPU.</summary>
    Tiny,
    /// <summary>torchvision VGG16 up to conv4_3 (D2-Net), stride 8, 512-d.</summary>
    Vgg16,
}
