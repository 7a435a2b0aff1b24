using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LocalFeat.Train.Data;

/// <summary>
/// Random homography pairs in the spirit of HNDesc's H-crops: crop 1 is an axis-aligned S×S window of a photo;
/// crop 2 views the same place through zoom, a keystone perspective (one side shrunk by a factor in
/// [perspective_min, 1]), a rotation and a shift of its centre; both get brightness/contrast, blur and noise.
/// Flat crops and pairs with too few grid correspondences are redrawn. A sample depends only on its seed.
/// </summary>
public sealed class PairSampler : IPairSource
{
    private const int MaxAttempts = 50;
    private readonly List<(string name, Tensor image)> _images = [];  // float [1,1,H,W] in [0,1]
    private readonly Tensor _base;  // [S·S, 3] homogeneous pixel coordinates (u, v, 1) of a crop
    private readonly int _stride;
    private readonly PhotometricAugmentation _augment;

    /// <param name="images">grey uint8 [H,W] photos (not taken over: the caller keeps them).</param>
    /// <param name="stride">the model's feature stride: correspondences live on its grid.</param>
    public PairSampler(IReadOnlyList<(string name, Tensor image)> images, PairSettings settings, int stride)
    {
        if (images.Count == 0) throw new ArgumentException("PairSampler needs at least one image", nameof(images));
        Settings = settings;
        _stride = stride;
        _augment = new PhotometricAugmentation(settings);
        int s = settings.CropSize;
        using (torch.NewDisposeScope())
        {
            foreach (var (name, img) in images) _images.Add((name, Prepare(img, s).DetachFromDisposeScope()));
            var coords = torch.arange(0, s, 1, dtype: ScalarType.Float32);
            var mesh = torch.meshgrid([coords, coords]);  // rows (v), cols (u)
            _base = torch.stack([mesh[1].reshape(-1), mesh[0].reshape(-1), torch.ones(s * s)], 1).DetachFromDisposeScope();
        }
    }

    public PairSettings Settings { get; }
    public int Stride => _stride;
    public int CropSize => Settings.CropSize;

    /// <summary>The pair of one seed with its grid correspondences (the loader's entry).</summary>
    public TrainingPair Draw(ulong seed)
    {
        var p = Sample(seed);  // its crops pass to the TrainingPair
        int s = Settings.CropSize;
        return new TrainingPair
        {
            Image1 = p.Image1, Image2 = p.Image2,
            Matches = Correspondences.Grid(p.H12, s, s, s, s, _stride), H12 = p.H12, Source = p.Source,
        };
    }

    // Shorter side into [1.25 S, 2 S] so that crop 2's wider view stays mostly inside the photo.
    public static Tensor Prepare(Tensor gray, int s)
    {
        var x = gray.to(ScalarType.Float32).div(255.0).unsqueeze(0).unsqueeze(0);
        long h = gray.size(0), w = gray.size(1);
        double shorter = Math.Min(h, w);
        double target = Math.Clamp(shorter, 1.25 * s, 2.0 * s);
        if (target == shorter) return x.contiguous();
        double f = target / shorter;
        return F.interpolate(x, [Math.Max(s, (long)Math.Round(h * f)), Math.Max(s, (long)Math.Round(w * f))], mode: InterpolationMode.Bilinear, align_corners: true).contiguous();
    }

    /// <summary>The pair of one seed (every random choice derives from it, so loaders on any thread agree).</summary>
    public PairSample Sample(ulong seed)
    {
        var rng = new Random((int)(Mix(seed) & 0x7fffffff));
        int s = Settings.CropSize;
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            using var scope = torch.NewDisposeScope();
            var (name, img) = _images[rng.Next(_images.Count)];
            long ih = img.size(2), iw = img.size(3);
            int x0 = rng.Next((int)(iw - s + 1)), y0 = rng.Next((int)(ih - s + 1));
            var crop1 = img.narrow(2, y0, s).narrow(3, x0, s);
            if (Std255(crop1) < Settings.MinCropStd) continue;

            var g = Crop2Geometry(rng, x0, y0);
            var (crop2, inside) = Warp(img, g);
            if (inside < 0.6 || Std255(crop2) < Settings.MinCropStd) continue;
            var h12 = Homography.Mul(Homography.Inverse(g), Homography.Translation(x0, y0));
            using (var corr = Correspondences.Grid(h12, s, s, s, s, _stride))
                if (corr.Count < Settings.MinCorrespondences) continue;

            ulong noiseSeed = Mix(seed ^ 0x5bd1e995UL);
            var a1 = _augment.Apply(crop1, rng, noiseSeed).DetachFromDisposeScope();
            var a2 = _augment.Apply(crop2, rng, noiseSeed + 1).DetachFromDisposeScope();
            return new PairSample(a1, a2, h12, name);
        }
        throw new InvalidDataException($"no usable pair after {MaxAttempts} draws (seed {seed}): the photos are too flat or too small for data.crop_size {s}, or data.min_correspondences is too high");
    }

    // Crop-2 pixel → photo pixel: centre of crop 1 (shifted) · rotation · zoom · keystone, in crop-centred coordinates.
    private double[] Crop2Geometry(Random rng, int x0, int y0)
    {
        var st = Settings;
        double half = (st.CropSize - 1) / 2.0;
        double zoom = U(rng, st.ZoomMin, st.ZoomMax);
        double theta = U(rng, -st.RotationDeg, st.RotationDeg) * Math.PI / 180;
        double p = U(rng, st.PerspectiveMin, 1);
        int side = rng.Next(4);
        double sx = U(rng, -st.Shift, st.Shift) * st.CropSize, sy = U(rng, -st.Shift, st.Shift) * st.CropSize;
        (double x, double y)[] square = [(-half, -half), (half, -half), (half, half), (-half, half)];
        var keystone = ((double x, double y)[])square.Clone();
        // Shrink one side (top, right, bottom or left) around its midpoint: a view tilted about the opposite side.
        int a = side, b = (side + 1) % 4;
        var mid = ((square[a].x + square[b].x) / 2, (square[a].y + square[b].y) / 2);
        keystone[a] = (mid.Item1 + p * (square[a].x - mid.Item1), mid.Item2 + p * (square[a].y - mid.Item2));
        keystone[b] = (mid.Item1 + p * (square[b].x - mid.Item1), mid.Item2 + p * (square[b].y - mid.Item2));
        var k = Homography.FromPoints(square, keystone);
        return Homography.Chain(
            Homography.Translation(x0 + half + sx, y0 + half + sy),
            Homography.Rotation(theta),
            Homography.Scale(zoom),
            k,
            Homography.Translation(-half, -half));
    }

    /// <summary>Crop 2 sampled from the photo through <paramref name="g"/> (bilinear, zeros outside) and the fraction inside the photo.</summary>
    private (Tensor crop, double inside) Warp(Tensor img, double[] g)
    {
        int s = Settings.CropSize;
        long ih = img.size(2), iw = img.size(3);
        var gt = torch.tensor(g.Select(v => (float)v).ToArray(), new long[] { 3, 3 }).t();
        var p = _base.mm(gt);
        var z = p.select(1, 2);
        var x = p.select(1, 0) / z;
        var y = p.select(1, 1) / z;
        var inside = ((x >= 0) & (x <= iw - 1) & (y >= 0) & (y <= ih - 1)).to(ScalarType.Float32).mean().item<float>();
        var grid = torch.stack([x * (2.0 / (iw - 1)) - 1, y * (2.0 / (ih - 1)) - 1], 1).view(1, s, s, 2);
        return (F.grid_sample(img, grid, align_corners: true), inside);
    }

    private static double Std255(Tensor x) => x.std().item<float>() * 255.0;

    private static double U(Random rng, double lo, double hi) => PhotometricAugmentation.U(rng, lo, hi);

    /// <summary>SplitMix64 finaliser: decorrelates nearby seeds (sample k and k+1).</summary>
    public static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public void Dispose()
    {
        foreach (var (_, t) in _images) t.Dispose();
        _images.Clear();
        _base.Dispose();
    }
}
