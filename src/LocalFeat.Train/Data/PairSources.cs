using LocalFeat.Train.Data.Scenes;
using LocalFeat.Train.Settings;
using LocalFeat.Train.Training;
using static TorchSharp.torch;

namespace LocalFeat.Train.Data;

/// <summary>The training pairs that <c>data.source</c> names.</summary>
public static class PairSources
{
    /// <param name="photos">grey uint8 photos (homography and scene pairs draw from them; not taken over).</param>
    public static IPairSource Create(TrainConfig c, IReadOnlyList<(string name, Tensor image)> photos, int stride) => c.Data.Source switch
    {
        DataSource.Scenes => new SceneSampler(photos, PairSettings.From(c), c.Scene, stride),
        DataSource.Megadepth => new MegaDepthSource(MegaDepthFolder.Open(c.Data.Megadepth!), PairSettings.From(c), c.Scene, stride),
        _ => new PairSampler(photos, PairSettings.From(c), stride),
    };

    /// <summary>One line for the log: what the pairs are.</summary>
    public static string Describe(TrainConfig c, IPairSource source) => source switch
    {
        SceneSampler => $"synthetic 3-D scenes of {c.Scene.PlanesMin}–{c.Scene.PlanesMax} planes, 3-D safe window {c.Loss.SafeRadius3D} scene units",
        MegaDepthSource m => $"MegaDepth-style folder: {m.Folder}; 3-D safe window {c.Loss.SafeRadius3D} units",
        _ => $"homography pairs, safe window {c.Loss.SafeRadius} cells",
    };
}
