using LocalFeat.Train.Settings;
using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Train.Data.Scenes;

/// <summary>
/// Synthetic 3-D scenes with exact depth: 2–5 textured planes (an unbounded back wall and rectangles in front of it, each
/// showing a photo) seen by two pinhole cameras. Camera 1 sits at the origin; camera 2 at a baseline in a random direction,
/// turned to look at the back wall's point on camera 1's axis, then by up to <c>scene.rotation_deg</c> about a random
/// axis. Each view is ray-traced (<see cref="PlaneSceneRenderer"/>), then gets the photometric augmentation of the
/// homography pairs. Flat views and pairs with too few depth-and-pose correspondences are redrawn. A pair depends only
/// on its seed.
/// </summary>
public sealed class SceneSampler : DepthPairSource
{
    private const int MaxAttempts = 50;
    private readonly List<Texture> _textures = [];
    private readonly PhotometricAugmentation _augment;

    /// <param name="images">grey uint8 [H,W] photos (not taken over).</param>
    public SceneSampler(IReadOnlyList<(string name, Tensor image)> images, PairSettings settings, SceneSettings scene, int stride)
    {
        if (images.Count == 0) throw new ArgumentException("SceneSampler needs at least one image", nameof(images));
        Settings = settings;
        Scene = scene;
        Stride = stride;
        _augment = new PhotometricAugmentation(settings);
        using var _ = torch.NewDisposeScope();
        foreach (var (name, img) in images) _textures.Add(Texture.FromTensor(PairSampler.Prepare(img, settings.CropSize), name));
    }

    public PairSettings Settings { get; }
    public SceneSettings Scene { get; }
    public override int Stride { get; }
    public override int CropSize => Settings.CropSize;

    protected override (ScenePair pair, DepthMatches matches) Build(ulong seed, bool augment)
    {
        var rng = new Random((int)(PairSampler.Mix(seed) & 0x7fffffff));
        int s = Settings.CropSize;
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var cam1 = RandomIntrinsics(rng, s, new Vec3(0, 0, 0), Rotation3.Identity());
            var planes = RandomPlanes(rng, cam1, s, out double lookDepth);
            var cam2 = SecondCamera(rng, s, lookDepth);
            var (img1, depth1) = PlaneSceneRenderer.Render(planes, cam1, s, s);
            var (img2, depth2) = PlaneSceneRenderer.Render(planes, cam2, s, s);
            if (Std255(img1) < Settings.MinCropStd || Std255(img2) < Settings.MinCropStd) continue;
            var v1 = new SceneView(cam1, depth1);
            var v2 = new SceneView(cam2, depth2);
            var t12 = PinholeCamera.RelativePose(cam1, cam2);
            var matches = DepthCorrespondences.Compute(v1, v2, t12, Stride, Scene.DepthTolerance);
            if (matches.Matches.Count < Settings.MinCorrespondences) { matches.Dispose(); continue; }
            ulong noiseSeed = PairSampler.Mix(seed ^ 0x5bd1e995UL);
            using var scope = torch.NewDisposeScope();
            var t1 = torch.tensor(img1, new long[] { 1, 1, s, s });
            var t2 = torch.tensor(img2, new long[] { 1, 1, s, s });
            var a1 = (augment ? _augment.Apply(t1, rng, noiseSeed) : t1.view(1, s, s)).DetachFromDisposeScope();
            var a2 = (augment ? _augment.Apply(t2, rng, noiseSeed + 1) : t2.view(1, s, s)).DetachFromDisposeScope();
            string source = string.Join("+", planes.Select(p => p.Texture.Name).Distinct());
            return (new ScenePair(a1, a2, v1, v2, t12, $"scene of {planes.Count} planes ({source})"), matches);
        }
        throw new InvalidDataException($"no usable scene pair after {MaxAttempts} draws (seed {seed}): the photos are too flat, the scene.* ranges leave the views too little overlap, or data.min_correspondences is too high");
    }

    private PinholeCamera RandomIntrinsics(Random rng, int s, Vec3 centre, double[] r)
    {
        double fov = U(rng, Scene.FovMinDeg, Scene.FovMaxDeg) * Math.PI / 180;
        double f = s / 2.0 / Math.Tan(fov / 2);
        return new PinholeCamera(f, f, (s - 1) / 2.0, (s - 1) / 2.0, r, centre);
    }

    // The back wall (unbounded, tilted by up to half of scene.tilt_deg) and rectangles in front of it.
    private List<ScenePlane> RandomPlanes(Random rng, PinholeCamera cam1, int s, out double lookDepth)
    {
        var sc = Scene;
        int count = rng.Next(sc.PlanesMin, sc.PlanesMax + 1);
        double mid = (sc.DepthMin + sc.DepthMax) / 2;
        double wallDepth = U(rng, mid, sc.DepthMax);
        var wallNormal = Tilt(rng, new Vec3(0, 0, -1), U(rng, 0, sc.TiltDeg / 2));
        var wall = Plane(rng, new Vec3(0, 0, wallDepth), wallNormal, double.PositiveInfinity, double.PositiveInfinity, cam1.Fx / wallDepth);
        var planes = new List<ScenePlane> { wall };
        lookDepth = wall.Intersect(new Vec3(0, 0, 0), new Vec3(0, 0, 1), out _, out _);
        if (!double.IsFinite(lookDepth)) lookDepth = wallDepth;
        for (int k = 1; k < count; k++)
        {
            var ray = cam1.Ray(U(rng, 0.1, 0.9) * s, U(rng, 0.1, 0.9) * s);
            double behind = wall.Intersect(cam1.C, ray, out _, out _);
            double far = Math.Max(sc.DepthMin, 0.85 * Math.Min(behind, sc.DepthMax));
            double z = U(rng, sc.DepthMin, far);
            var centre = z * ray;
            var normal = Tilt(rng, -1 * ray.Normalized(), U(rng, 0, sc.TiltDeg));
            double view = z * s / cam1.Fx;  // width of the view at depth z
            planes.Add(Plane(rng, centre, normal, U(rng, 0.1, 0.35) * view, U(rng, 0.1, 0.35) * view, cam1.Fx / z));
        }
        return planes;
    }

    // A plane through origin with normal n (facing camera 1), random in-plane axes, a random photo at 0.7–1.4 texture
    // pixels per image pixel where it faces camera 1.
    private ScenePlane Plane(Random rng, Vec3 origin, Vec3 n, double halfU, double halfV, double pixelsPerUnit)
    {
        var helper = Math.Abs(n.Y) < 0.9 ? new Vec3(0, 1, 0) : new Vec3(1, 0, 0);
        var a = helper.Cross(n).Normalized();
        var b = n.Cross(a);
        double phi = U(rng, 0, 2 * Math.PI);
        var u = Math.Cos(phi) * a + Math.Sin(phi) * b;
        var v = n.Cross(u);  // U × V = n
        var tex = _textures[rng.Next(_textures.Count)];
        return new ScenePlane(origin, u, v, halfU, halfV, tex, U(rng, 0, tex.Width - 1), U(rng, 0, tex.Height - 1), pixelsPerUnit * U(rng, 0.7, 1.4));
    }

    private PinholeCamera SecondCamera(Random rng, int s, double lookDepth)
    {
        var dir = new Vec3(U(rng, -1, 1), U(rng, -1, 1), 0.5 * U(rng, -1, 1));
        if (dir.Length < 1e-6) dir = new Vec3(1, 0, 0);
        var centre = U(rng, Scene.BaselineMin, Scene.BaselineMax) * dir.Normalized();
        var look = Rotation3.LookAt(centre, new Vec3(0, 0, lookDepth));
        var turn = Rotation3.AxisAngle(RandomUnit(rng), U(rng, 0, Scene.RotationDeg) * Math.PI / 180);
        return RandomIntrinsics(rng, s, centre, Homography.Mul(turn, look));
    }

    // n tilted by deg degrees about a random axis perpendicular to it.
    private static Vec3 Tilt(Random rng, Vec3 n, double deg)
    {
        var helper = Math.Abs(n.Y) < 0.9 ? new Vec3(0, 1, 0) : new Vec3(1, 0, 0);
        var a = helper.Cross(n).Normalized();
        var b = n.Cross(a);
        double phi = U(rng, 0, 2 * Math.PI);
        var axis = Math.Cos(phi) * a + Math.Sin(phi) * b;
        return Rotation3.Apply(Rotation3.AxisAngle(axis, deg * Math.PI / 180), n).Normalized();
    }

    private static Vec3 RandomUnit(Random rng)
    {
        while (true)
        {
            var v = new Vec3(U(rng, -1, 1), U(rng, -1, 1), U(rng, -1, 1));
            double l = v.Length;
            if (l > 1e-3 && l <= 1) return (1 / l) * v;
        }
    }

    private static double Std255(float[] x)
    {
        double mean = 0, sq = 0;
        foreach (var v in x) mean += v;
        mean /= x.Length;
        foreach (var v in x) sq += (v - mean) * (v - mean);
        return Math.Sqrt(sq / Math.Max(1, x.Length - 1)) * 255;
    }

    private static double U(Random rng, double lo, double hi) => PhotometricAugmentation.U(rng, lo, hi);

    public override void Dispose() => _textures.Clear();
}
