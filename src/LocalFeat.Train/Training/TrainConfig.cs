using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using LocalFeat.Train.Settings;

namespace LocalFeat.Train.Training;

/// <summary>
/// Every setting of <c>localfeat train</c> (and of the eval that follows it), grouped by concern. In JSON a group is
/// an object (<c>{"optimizer": {"lr": 0.001}}</c>); on the command line a key is dotted (<c>--set optimizer.lr=0.001</c>).
/// A config file holds any subset, the command line overrides it, and the resolved config is saved with the run as
/// <c>config.json</c>.
/// </summary>
public sealed class TrainConfig
{
    public const string DefaultImages = DataSettings.DefaultImages;

    /// <summary>Bound of run.threads: more intra-op threads than 4 per core only add contention (and 10⁵ threads hang the process).</summary>
    public static readonly int MaxThreads = 4 * Environment.ProcessorCount;

    [JsonPropertyName("run")] public RunSettings Run { get; set; } = new();
    [JsonPropertyName("model")] public ModelSettings Model { get; set; } = new();
    [JsonPropertyName("optimizer")] public OptimizerSettings Optimizer { get; set; } = new();
    [JsonPropertyName("loss")] public LossSettings Loss { get; set; } = new();
    [JsonPropertyName("data")] public DataSettings Data { get; set; } = new();
    [JsonPropertyName("scene")] public SceneSettings Scene { get; set; } = new();
    [JsonPropertyName("eval")] public EvalSettings Eval { get; set; } = new();
    [JsonPropertyName("tasp")] public TaspSettings Tasp { get; set; } = new();
    [JsonPropertyName("hndesc")] public HndescSettings Hndesc { get; set; } = new();
    [JsonPropertyName("tpr")] public TprSettings Tpr { get; set; } = new();
    [JsonPropertyName("dist")] public DistSettings Dist { get; set; } = new();

    private sealed record Key(PropertyInfo Group, PropertyInfo Leaf);

    private static string JsonName(PropertyInfo p) => p.GetCustomAttribute<JsonPropertyNameAttribute>()!.Name;

    // "group.leaf" → the two properties, in declaration order.
    private static readonly Dictionary<string, Key> Keys = typeof(TrainConfig).GetProperties()
        .Where(g => g.GetCustomAttribute<JsonPropertyNameAttribute>() != null)
        .SelectMany(g => g.PropertyType.GetProperties().Where(l => l.GetCustomAttribute<JsonPropertyNameAttribute>() != null)
            .Select(l => (name: $"{JsonName(g)}.{JsonName(l)}", key: new Key(g, l))))
        .ToDictionary(x => x.name, x => x.key);

    private static readonly HashSet<string> Groups = Keys.Values.Select(k => JsonName(k.Group)).ToHashSet();

    /// <summary>Every dotted key.</summary>
    public static IReadOnlyCollection<string> KeyNames => Keys.Keys;

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false) },
    };

    /// <summary>Defaults, then the file (if any), then each override; validated.</summary>
    public static TrainConfig Resolve(string? file, IEnumerable<(string key, string value)> overrides)
    {
        var config = file is null ? new TrainConfig() : Load(file);
        foreach (var (key, value) in overrides) config.Set(key, value);
        config.Validate();
        return config;
    }

    public static TrainConfig Load(string file) => new TrainConfig().OverlayFile(file);

    public TrainConfig OverlayFile(string file)
    {
        if (!File.Exists(file)) throw new ConfigException($"config file not found: '{file}'");
        return Overlay(File.ReadAllText(file), $"config file '{file}'");
    }

    /// <summary>Settings from JSON text (a file's or a checkpoint's), not yet validated.</summary>
    public static TrainConfig Parse(string json, string origin) => new TrainConfig().Overlay(json, origin);

    /// <summary>Sets the keys present in <paramref name="json"/> (an object of groups of settings) on this config.</summary>
    public TrainConfig Overlay(string json, string origin)
    {
        JsonNode? root;
        // Duplicates refused at parse time (System.Text.Json would keep one silently or throw later without the file's name).
        try { root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }); }
        catch (JsonException e) when (DuplicateKey(json) is { } dup) { throw new ConfigException($"{origin}: duplicate key '{dup}' (each setting may appear once)", e); }
        catch (JsonException e) { throw new ConfigException($"{origin} is not valid JSON: {e.Message}"); }
        if (root is not JsonObject obj) throw new ConfigException($"{origin}: expected a JSON object of settings, got {root?.GetValueKind().ToString() ?? "null"}");
        try
        {
            foreach (var (group, node) in obj)
            {
                if (!Groups.Contains(group)) throw new ConfigException($"config: unknown group '{group}'{Hint(group)}; groups: {string.Join(", ", Groups)}");
                if (node is not JsonObject settings)
                    throw new ConfigException($"config '{group}': expected an object of settings, got {node?.ToJsonString() ?? "null"}");
                foreach (var (leaf, value) in settings) Set($"{group}.{leaf}", value);
            }
        }
        catch (ConfigException e) { throw new ConfigException($"{origin}: {e.Message}"); }
        return this;
    }

    // The first repeated property, as a dotted path ("run.steps"), or null.
    private static string? DuplicateKey(string json)
    {
        var reader = new Utf8JsonReader(System.Text.Encoding.UTF8.GetBytes(json), new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        var path = new Stack<(string? name, HashSet<string>? keys)>();
        string? pending = null;
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject: path.Push((pending, new HashSet<string>())); pending = null; break;
                    case JsonTokenType.StartArray: path.Push((pending, null)); pending = null; break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray: path.Pop(); break;
                    case JsonTokenType.PropertyName:
                        pending = reader.GetString()!;
                        if (path.Peek().keys is { } keys && !keys.Add(pending))
                            return string.Join('.', path.Reverse().Select(p => p.name).Where(n => n != null).Append(pending));
                        break;
                    default: pending = null; break;
                }
            }
        }
        catch (JsonException) { }
        return null;
    }

    /// <summary>Sets one dotted key from command-line text: JSON (numbers, true/false, null, "quoted") or a bare string.</summary>
    public void Set(string key, string text)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(text); }
        catch (JsonException) { node = JsonValue.Create(text); }
        Set(key, node);
    }

    public void Set(string key, JsonNode? node)
    {
        if (!Keys.TryGetValue(key, out var k))
            throw new ConfigException($"config: unknown key '{key}'{Hint(key)}; known keys: {string.Join(", ", Keys.Keys.Order(StringComparer.Ordinal))}");
        var p = k.Leaf;
        object target = k.Group.GetValue(this)!;
        var type = p.PropertyType;
        string got = node is null ? "null" : node.ToJsonString();
        try
        {
            if (node is null)
            {
                if (type != typeof(string) || !IsNullable(p)) throw new ConfigException($"config '{key}': expected {Describe(type)}, got null");
                p.SetValue(target, null);
                return;
            }
            var v = node.AsValue();
            object value = type switch
            {
                _ when type == typeof(string) => v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : v.ToJsonString(),
                _ when type == typeof(bool) => v.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? v.GetValue<bool>() : throw new FormatException(),
                _ when type == typeof(int) => checked((int)Number(v, integer: true)),
                _ when type == typeof(long) => checked((long)Number(v, integer: true)),
                _ when type == typeof(double) => Number(v, integer: false),
                _ when type.IsEnum => EnumValue(key, type, v),
                _ => throw new InvalidOperationException($"config '{key}' has unsupported type {type}"),
            };
            p.SetValue(target, value);
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or OverflowException or ArgumentException)
        {
            throw new ConfigException($"config '{key}': expected {Describe(type)}, got {got}");
        }
    }

    // A key given without its group (the flat keys of earlier versions): name the dotted one.
    private static string Hint(string key)
    {
        var match = Keys.Keys.Where(k => k.EndsWith("." + key, StringComparison.Ordinal)).ToList();
        return match.Count > 0 ? $" (did you mean {string.Join(" or ", match.Select(m => $"'{m}'"))}?)" : "";
    }

    /// <summary>The config names of an enum's values ("d2net", "conv4_3", "vgg16", ...), as written to JSON.</summary>
    public static string[] EnumNames(Type type) => type.GetFields(BindingFlags.Public | BindingFlags.Static).Select(EnumName).ToArray();

    private static string EnumName(FieldInfo f) =>
        f.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name ?? JsonNamingPolicy.SnakeCaseLower.ConvertName(f.Name);

    /// <summary>The config name of one enum value.</summary>
    public static string EnumName<T>(T value) where T : struct, Enum => EnumName(typeof(T).GetField(value.ToString())!);

    private static object EnumValue(string key, Type type, JsonValue v)
    {
        var names = EnumNames(type);
        string? text = v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;
        var field = type.GetFields(BindingFlags.Public | BindingFlags.Static).FirstOrDefault(f => EnumName(f) == text);
        if (field is null) throw new ConfigException($"config '{key}': expected one of {string.Join(" | ", names)}, got {(text is null ? v.ToJsonString() : $"'{text}'")}");
        return field.GetValue(null)!;
    }

    private static double Number(JsonValue v, bool integer)
    {
        double d = v.GetValueKind() switch
        {
            JsonValueKind.Number => v.GetValue<double>(),
            JsonValueKind.String => double.Parse(v.GetValue<string>(), NumberStyles.Float, CultureInfo.InvariantCulture),
            _ => throw new FormatException(),
        };
        if (integer && d != Math.Floor(d)) throw new FormatException();
        return d;
    }

    private static bool IsNullable(PropertyInfo p) => new NullabilityInfoContext().Create(p).WriteState == NullabilityState.Nullable;

    private static string Describe(Type t) =>
        t == typeof(int) || t == typeof(long) ? "an integer" : t == typeof(double) ? "a number" : t == typeof(bool) ? "true or false"
        : t.IsEnum ? $"one of {string.Join(" | ", EnumNames(t))}" : "a string";

    /// <summary>Every range rule; the first violation throws with key, expected and received.</summary>
    public void Validate()
    {
        var (r, m, o, l, d, e) = (Run, Model, Optimizer, Loss, Data, Eval);
        if (string.IsNullOrWhiteSpace(r.Out)) throw new ConfigException("config 'run.out': expected a directory path, got an empty string");
        if (string.IsNullOrWhiteSpace(d.Images)) throw new ConfigException("config 'data.images': expected a folder of images, got an empty string");
        Check("run.threads", r.Threads, r.Threads >= 0 && r.Threads <= MaxThreads, $"an integer in [0, {MaxThreads}] (0 = one per core; at most 4 per core of this machine's {Environment.ProcessorCount})");
        Check("run.steps", r.Steps, r.Steps >= 1, "an integer ≥ 1");
        Check("run.checkpoint_every", r.CheckpointEvery, r.CheckpointEvery >= 1, "an integer ≥ 1");
        Check("run.keep_checkpoints", r.KeepCheckpoints, r.KeepCheckpoints >= 1, "an integer ≥ 1");
        Check("run.log_every", r.LogEvery, r.LogEvery >= 1, "an integer ≥ 1");
        Check("optimizer.batch_size", o.BatchSize, o.BatchSize is >= 1 and <= 256, "an integer in [1, 256]");
        Check("optimizer.lr", o.Lr, o.Lr > 0 && double.IsFinite(o.Lr), "a number > 0");
        Check("optimizer.warmup_steps", o.WarmupSteps, o.WarmupSteps >= 0, "an integer ≥ 0");
        Check("optimizer.lr_final_factor", o.LrFinalFactor, o.LrFinalFactor is >= 0 and <= 1, "a number in [0, 1]");
        Check("optimizer.weight_decay", o.WeightDecay, o.WeightDecay >= 0, "a number ≥ 0");
        Check("optimizer.grad_clip", o.GradClip, o.GradClip >= 0, "a number ≥ 0 (0 = off)");
        Check("loss.margin", l.Margin, l.Margin > 0, "a number > 0");
        Check("loss.safe_radius", l.SafeRadius, l.SafeRadius >= 0, "a number ≥ 0");
        Check("data.crop_size", d.CropSize, d.CropSize is >= 32 and <= 2048 && d.CropSize % 8 == 0, "a multiple of 8 in [32, 2048]");
        Check("data.zoom_min", d.ZoomMin, d.ZoomMin is > 0 and <= 4, "a number in (0, 4]");
        Check("data.zoom_max", d.ZoomMax, d.ZoomMax >= d.ZoomMin && d.ZoomMax <= 4, $"a number in [data.zoom_min = {Fmt(d.ZoomMin)}, 4]");
        Check("data.perspective_min", d.PerspectiveMin, d.PerspectiveMin is > 0 and <= 1, "a number in (0, 1]");
        Check("data.rotation_deg", d.RotationDeg, d.RotationDeg is >= 0 and <= 180, "a number in [0, 180]");
        Check("data.shift", d.Shift, d.Shift is >= 0 and <= 0.5, "a number in [0, 0.5]");
        Check("data.brightness", d.Brightness, d.Brightness is >= 0 and <= 1, "a number in [0, 1]");
        Check("data.contrast", d.Contrast, d.Contrast is >= 0 and < 1, "a number in [0, 1)");
        Check("data.blur_prob", d.BlurProb, d.BlurProb is >= 0 and <= 1, "a probability in [0, 1]");
        Check("data.noise_std", d.NoiseStd, d.NoiseStd is >= 0 and <= 1, "a number in [0, 1]");
        Check("data.min_crop_std", d.MinCropStd, d.MinCropStd >= 0, "a number ≥ 0");
        Check("data.min_correspondences", d.MinCorrespondences, d.MinCorrespondences >= 1, "an integer ≥ 1");
        Check("data.loader_threads", d.LoaderThreads, d.LoaderThreads is >= 1 and <= 64, "an integer in [1, 64]");
        Check("data.prefetch", d.Prefetch, d.Prefetch is >= 1 and <= 1024, "an integer in [1, 1024]");
        Check("loss.safe_radius_3d", l.SafeRadius3D, l.SafeRadius3D >= 0, "a number ≥ 0 (scene units)");
        if (d.Source == DataSource.Megadepth && string.IsNullOrWhiteSpace(d.Megadepth))
            throw new ConfigException("config 'data.megadepth': expected a MegaDepth-style folder (images/, depths/, cameras.json, pairs.txt) with data.source megadepth, got none");
        var sc = Scene;
        Check("scene.planes_min", sc.PlanesMin, sc.PlanesMin is >= 1 and <= 16, "an integer in [1, 16]");
        Check("scene.planes_max", sc.PlanesMax, sc.PlanesMax >= sc.PlanesMin && sc.PlanesMax <= 16, $"an integer in [scene.planes_min = {sc.PlanesMin}, 16]");
        Check("scene.fov_min_deg", sc.FovMinDeg, sc.FovMinDeg is >= 10 and <= 120, "a number in [10, 120] (degrees)");
        Check("scene.fov_max_deg", sc.FovMaxDeg, sc.FovMaxDeg >= sc.FovMinDeg && sc.FovMaxDeg <= 120, $"a number in [scene.fov_min_deg = {Fmt(sc.FovMinDeg)}, 120]");
        Check("scene.depth_min", sc.DepthMin, sc.DepthMin > 0 && double.IsFinite(sc.DepthMin), "a number > 0");
        Check("scene.depth_max", sc.DepthMax, sc.DepthMax > sc.DepthMin && double.IsFinite(sc.DepthMax), $"a number > scene.depth_min = {Fmt(sc.DepthMin)}");
        Check("scene.baseline_min", sc.BaselineMin, sc.BaselineMin >= 0, "a number ≥ 0");
        Check("scene.baseline_max", sc.BaselineMax, sc.BaselineMax >= sc.BaselineMin && sc.BaselineMax < sc.DepthMin, $"a number in [scene.baseline_min = {Fmt(sc.BaselineMin)}, scene.depth_min = {Fmt(sc.DepthMin)})");
        Check("scene.rotation_deg", sc.RotationDeg, sc.RotationDeg is >= 0 and <= 45, "a number in [0, 45] (degrees)");
        Check("scene.tilt_deg", sc.TiltDeg, sc.TiltDeg is >= 0 and <= 75, "a number in [0, 75] (degrees)");
        Check("scene.depth_tolerance", sc.DepthTolerance, sc.DepthTolerance is > 0 and < 1, "a number in (0, 1) (relative)");
        Check("eval.budget", e.Budget, e.Budget >= 1, "an integer ≥ 1");
        Check("eval.edge_threshold", e.EdgeThreshold, e.EdgeThreshold > 0, "a number > 0");
        Check("eval.synthetic_pairs", e.SyntheticPairs, e.SyntheticPairs >= 0, "an integer ≥ 0");
        Check("eval.crop_size", e.CropSize, e.CropSize is >= 32 and <= 4096 && e.CropSize % 8 == 0, "a multiple of 8 in [32, 4096]");
        Check("eval.max_image_side", e.MaxImageSide, e.MaxImageSide is >= 64 and <= 16384, "an integer in [64, 16384]");
        Check("eval.ransac_threshold", e.RansacThreshold, e.RansacThreshold > 0, "a number > 0");
        ValidateRecipes();
        Check("dist.timeout_s", Dist.TimeoutS, Dist.TimeoutS is >= 1 and <= 86400, "a number of seconds in [1, 86400]");
        Check("dist.bucket_mb", Dist.BucketMb, Dist.BucketMb is > 0 and <= 4096, "a number of MB in (0, 4096]");
        Check("eval.pose_threshold", e.PoseThreshold, e.PoseThreshold > 0 && double.IsFinite(e.PoseThreshold), "a number > 0");
        Check("eval.synthetic_pose_pairs", e.SyntheticPosePairs, e.SyntheticPosePairs >= 0, "an integer ≥ 0");
        LocalFeat.Train.Evaluation.Pose.PoseResize.Parse(e.PoseResize);
        Check("eval.sweep_photos", e.SweepPhotos, e.SweepPhotos is >= 1 and <= 1000, "an integer in [1, 1000]");
        Check("eval.sweep_size", e.SweepSize, e.SweepSize is >= 64 and <= 2048, "an integer in [64, 2048]");
        try { _ = LocalFeat.Train.Evaluation.Sweeps.Sweep.ParseList(e.Sweeps); }
        catch (FormatException x) { throw new ConfigException($"config 'eval.sweeps': {x.Message}, got '{e.Sweeps}'"); }
        try { _ = ParseScales(e.Scales); }
        catch (FormatException x) { throw new ConfigException($"config 'eval.scales': {x.Message}, got '{e.Scales}'"); }
        if (ParseScales(e.Scales).Length > 1 && e.Detection != LocalFeat.Features.DetectionMode.Hard)
            throw new ConfigException($"config 'eval.scales': several scales need eval.detection hard (D2-Net's pyramid), got '{e.Scales}' with detection {EnumName(e.Detection)}");
        if (m.Kind == LocalFeat.Models.FeatureNetKind.Tiny && m.Vgg16Weights != null)
            throw new ConfigException($"config 'model.vgg16_weights': only used with model.kind vgg16, got '{m.Vgg16Weights}' with model.kind tiny");
    }

    // Recipe settings are checked whatever the recipe, so a config that names one is valid for all (the compare command runs all four).
    private void ValidateRecipes()
    {
        var (t, h, p) = (Tasp, Hndesc, Tpr);
        Check("tasp.margin", t.Margin, t.Margin > 0 && double.IsFinite(t.Margin), "a number > 0");
        Check("tasp.patch_size", t.PatchSize, t.PatchSize is >= 8 and <= 256, "a number of pixels in [8, 256]");
        Check("tasp.diw_bins", t.DiwBins, t.DiwBins is >= 2 and <= 65536, "an integer in [2, 65536]");
        Check("tasp.diw_momentum", t.DiwMomentum, t.DiwMomentum is > 0 and <= 1, "a number in (0, 1]");
        Check("tasp.importance_max", t.ImportanceMax, t.ImportanceMax > 0 && double.IsFinite(t.ImportanceMax), "a number > 0");
        Check("tasp.keypoint_t", t.KeypointT, t.KeypointT is >= 0 and <= 10, "a number in [0, 10]");
        Check("tasp.descriptor_weight", t.DescriptorWeight, t.DescriptorWeight >= 0 && double.IsFinite(t.DescriptorWeight), "a number ≥ 0");
        Check("tasp.keypoint_weight", t.KeypointWeight, t.KeypointWeight >= 0 && double.IsFinite(t.KeypointWeight), "a number ≥ 0");
        if (t.DescriptorWeight == 0 && t.KeypointWeight == 0)
            throw new ConfigException("config 'tasp.descriptor_weight': expected a number > 0 when tasp.keypoint_weight is 0 (nothing to train), got 0");
        Check("hndesc.k", h.K, h.K is >= 1 and <= LocalFeat.Ops.InBatchHardestNegatives.MaxK, $"an integer in [1, {LocalFeat.Ops.InBatchHardestNegatives.MaxK}]");
        Check("hndesc.ap_bins", h.ApBins, h.ApBins is >= 2 and <= 100, "an integer in [2, 100]");
        if (Run.Recipe == Recipe.Hndesc && Optimizer.BatchSize < 2)
            throw new ConfigException($"config 'optimizer.batch_size': expected an integer ≥ 2 with run.recipe hndesc (its negatives come from the other pairs of the batch), got {Optimizer.BatchSize}");
        Check("tpr.tau_base", p.TauBase, p.TauBase is >= 0 and <= 1, "a number in [0, 1]");
        Check("tpr.hidden", p.Hidden, p.Hidden is >= 1 and <= 8192, "an integer in [1, 8192]");
        Check("tpr.projection", p.Projection, p.Projection is >= 1 and <= 8192, "an integer in [1, 8192]");
        Check("tpr.alpha_max", p.AlphaMax, p.AlphaMax >= 0 && double.IsFinite(p.AlphaMax), "a number ≥ 0");
        Check("tpr.lambda", p.Lambda, p.Lambda > 0 && double.IsFinite(p.Lambda), "a number > 0");
        Check("tpr.keypoint_weight", p.KeypointWeight, p.KeypointWeight >= 0 && double.IsFinite(p.KeypointWeight), "a number ≥ 0");
        Check("tpr.keypoint_t", p.KeypointT, p.KeypointT is >= 0 and <= 10, "a number in [0, 10]");
    }

    /// <summary>
    /// eval.scales as numbers: a comma-separated ascending list of image scales in [0.125, 4], at most 6
    /// (keypoints of the coarsest scale first). Throws <see cref="FormatException"/> saying what is wrong.
    /// </summary>
    public static double[] ParseScales(string text)
    {
        var parts = (text ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length is 0 or > 6) throw new FormatException("expected 1 to 6 comma-separated image scales such as 0.5,1,2");
        var v = parts.Select(p => double.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d
            : throw new FormatException($"expected numbers such as 0.5,1,2, '{p}' is not one")).ToArray();
        if (v.Any(d => !(d >= 0.125 && d <= 4))) throw new FormatException("expected every scale in [0.125, 4]");
        for (int i = 1; i < v.Length; i++) if (!(v[i] > v[i - 1])) throw new FormatException("expected strictly ascending scales (coarsest first, as D2-Net's pyramid)");
        return v;
    }

    private static string Fmt(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static void Check(string key, double value, bool ok, string expected)
    {
        if (!ok) throw new ConfigException($"config '{key}': expected {expected}, got {Fmt(value)}");
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public TrainConfig Clone() => Parse(ToJson(), "config");
}
