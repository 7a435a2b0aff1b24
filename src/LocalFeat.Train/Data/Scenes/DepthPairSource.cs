namespace LocalFeat.Train.Data.Scenes;

/// <summary>
/// A source of scene pairs with depth and pose (synthetic scenes, MegaDepth-style folders): one <see cref="Build"/> per
/// seed gives the pair and its depth-and-pose correspondences, for training (<see cref="Draw"/>) or for pose
/// evaluation and tests (<see cref="Sample"/>).
/// </summary>
public abstract class DepthPairSource : IPairSource
{
    public abstract int CropSize { get; }
    public abstract int Stride { get; }

    public TrainingPair Draw(ulong seed)
    {
        var (pair, matches) = Build(seed, augment: true);
        return TrainingPair.FromScene(pair, matches);
    }

    /// <summary>The scene pair of one seed (cameras, depths, pose), augmented as for training or not.</summary>
    public ScenePair Sample(ulong seed, bool augment = true)
    {
        var (pair, matches) = Build(seed, augment);
        matches.Dispose();
        return pair;
    }

    /// <summary>The pair of <paramref name="seed"/> and its correspondences (every random choice derives from the seed).</summary>
    protected abstract (ScenePair pair, DepthMatches matches) Build(ulong seed, bool augment);

    public abstract void Dispose();
}
