using LocalFeat.Train.Settings;
using LocalFeat.Train.Vision;
using OpenCvSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Train.Data.Scenes;

/// <summary>
/// Training pairs from a <see cref="MegaDepthFolder"/>: a listed pair per seed; each photo is scaled so its shorter side is
/// <c>data.crop_size</c> (area interpolation; depth by nearest pixel centre, so depths never blend across edges) and cropped
/// to S×S at a random offset, K following; correspondences from depth and pose (<see cref="DepthCorrespondences"/>);
/// the photometric augmentation of every pair. Pairs with too few correspondences are redrawn.
/// </summary>
public sealed class MegaDepthSource(MegaDepthFolder folder, PairSettings settings, SceneSettings scene, int stride) : DepthPairSource
{
    private const int MaxAttempts = 50;
    private readonly PhotometricAugmentation _augment = new(settings);

    public MegaDepthFolder Folder { get; } = folder;
    public override int CropSize => settings.CropSize;
    public override int Stride => stride;

    protected override (ScenePair pair, DepthMatches matches) Build(ulong seed, bool augment)
    {
        var rng = new Random((int)(PairSampler.Mix(seed) & 0x7fffffff));
        int s = settings.CropSize;
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var (a, b) = Folder.Pairs[rng.Next(Folder.Pairs.Count)];
            using var scope = torch.NewDisposeScope();
            var (img1, v1) = View(a, rng);
            var (img2, v2) = View(b, rng);
            var t12 = PinholeCamera.RelativePose(v1.Camera, v2.Camera);
            var matches = DepthCorrespondences.Compute(v1, v2, t12, stride, scene.DepthTolerance).DetachFromDisposeScope();
            if (matches.Matches.Count < settings.MinCorrespondences) { matches.Dispose(); continue; }
            ulong noiseSeed = PairSampler.Mix(seed ^ 0x5bd1e995UL);
            var x1 = img1.to(ScalarType.Float32).div(255.0).view(1, 1, s, s);
            var x2 = img2.to(ScalarType.Float32).div(255.0).view(1, 1, s, s);
            var a1 = (augment ? _augment.Apply(x1, rng, noiseSeed) : x1.view(1, s, s).contiguous()).DetachFromDisposeScope();
            var a2 = (augment ? _augment.Apply(x2, rng, noiseSeed + 1) : x2.view(1, s, s).contiguous()).DetachFromDisposeScope();
            return (new ScenePair(a1, a2, v1, v2, t12, $"{a} {b}"), matches);
        }
        throw new InvalidDataException($"no MegaDepth pair with data.min_correspondences = {settings.MinCorrespondences} after {MaxAttempts} draws (seed {seed}) in '{Folder.Root}'");
    }

    // The photo scaled (shorter side S) and cropped S×S at a random offset, with its depth and camera.
    private (Tensor image, SceneView view) View(string name, Random rng)
    {
        int s = settings.CropSize;
        var gray = Folder.ReadImage(name);
        var depth = Folder.ReadDepth(name);
        int h = (int)gray.size(0), w = (int)gray.size(1);
        if (depth.Width != w || depth.Height != h)
            throw new InvalidDataException($"'{Folder.DepthPath(name)}': depth is {depth.Width}×{depth.Height}, its image '{name}' {w}×{h}");
        double f = (double)s / Math.Min(w, h);
        int nw = Math.Max(s, (int)Math.Round(w * f)), nh = Math.Max(s, (int)Math.Round(h * f));
        using var m = OpenCv.ToMat(gray);
        using var small = new Mat();
        Cv2.Resize(m, small, new OpenCvSharp.Size(nw, nh), 0, 0, InterpolationFlags.Area);
        int x0 = rng.Next(nw - s + 1), y0 = rng.Next(nh - s + 1);
        var image = OpenCv.ToTensor(small).narrow(0, y0, s).narrow(1, x0, s).contiguous();
        var cropped = new float[s * s];
        for (int y = 0; y < s; y++)
        {
            int sy = Math.Min(h - 1, (int)((y + y0 + 0.5) * h / nh));  // nearest pixel centre
            for (int x = 0; x < s; x++)
                cropped[y * s + x] = depth.Values[sy * w + Math.Min(w - 1, (int)((x + x0 + 0.5) * w / nw))];
        }
        var camera = Folder.Cameras[name].ToPinhole((double)nw / w, (double)nh / h, x0, y0);
        return (image, new SceneView(camera, new DepthMap(s, s, cropped)));
    }

    public override void Dispose() { }
}
