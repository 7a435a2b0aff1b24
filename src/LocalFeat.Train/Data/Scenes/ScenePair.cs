using static TorchSharp.torch;

namespace LocalFeat.Train.Data.Scenes;

/// <summary>
/// Two views of one 3-D scene: grey images [1,H,W] in [0,1] (augmented for training), each view's camera and exact
/// depth, and the relative pose <see cref="T12"/> (row-major 4×4, camera 1 → camera 2: X₂ = R·X₁ + t).
/// </summary>
public sealed record ScenePair(Tensor Image1, Tensor Image2, SceneView View1, SceneView View2, double[] T12, string Source) : IDisposable
{
    public void Dispose() { Image1.Dispose(); Image2.Dispose(); }
}
