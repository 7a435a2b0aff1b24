using static TorchSharp.torch;

namespace LocalFeat.Features;

/// <summary>
/// Keypoints of one image with scores and descriptors (CPU tensors). Pixel convention: x right, y down, (x, y) the
/// centre of column x, row y.
/// </summary>
public sealed class LocalFeatureSet : IDisposable
{
    /// <summary>Takes ownership of the tensors.</summary>
    public LocalFeatureSet(Tensor keypoints, Tensor scores, Tensor descriptors)
    {
        if (keypoints.dim() != 2 || keypoints.size(1) != 2) throw new ArgumentException($"argument 'keypoints': expected [N,2], got [{string.Join(", ", keypoints.shape)}]", nameof(keypoints));
        if (scores.dim() != 1 || scores.size(0) != keypoints.size(0)) throw new ArgumentException($"argument 'scores': expected [{keypoints.size(0)}], got [{string.Join(", ", scores.shape)}]", nameof(scores));
        if (descriptors.dim() != 2 || descriptors.size(0) != keypoints.size(0)) throw new ArgumentException($"argument 'descriptors': expected [{keypoints.size(0)},D], got [{string.Join(", ", descriptors.shape)}]", nameof(descriptors));
        Keypoints = keypoints; Scores = scores; Descriptors = descriptors;
    }

    /// <summary>[N,2] float32 (x, y) pixels.</summary>
    public Tensor Keypoints { get; }
    /// <summary>[N] float32 detection scores.</summary>
    public Tensor Scores { get; }
    /// <summary>[N,D] float32, L2-normalised.</summary>
    public Tensor Descriptors { get; }
    /// <summary>N.</summary>
    public long Count => Keypoints.size(0);

    /// <inheritdoc />
    public void Dispose() { Keypoints.Dispose(); Scores.Dispose(); Descriptors.Dispose(); }
}
