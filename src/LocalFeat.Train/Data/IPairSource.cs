namespace LocalFeat.Train.Data;

/// <summary>
/// What the batch loader draws training pairs from: homography pairs (<see cref="PairSampler"/>), synthetic 3-D scenes
/// (<see cref="Scenes.SceneSampler"/>) or MegaDepth-style folders (<see cref="Scenes.MegaDepthSource"/>). A pair depends
/// only on its seed, and <see cref="Draw"/> is called from several loader threads at once.
/// </summary>
public interface IPairSource : IDisposable
{
    int CropSize { get; }
    /// <summary>The model's feature stride: correspondences live on its grid.</summary>
    int Stride { get; }
    TrainingPair Draw(ulong seed);
}
