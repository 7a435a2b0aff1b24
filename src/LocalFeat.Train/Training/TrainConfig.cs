using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace LocalFeat.Train.Training;


/// <summary>
/// Every setting of <c>localfeat train</c> (and of the eval that follows it). Keys are the JSON names; a config
/// file holds any subset, the command line overrides (<c>--steps</c>, ... or <c>--set key=value</c>), and the
/// resolved config is saved with the run as <c>config.json</c>.
/// </summary>
public sealed class TrainConfig
{
    public const string DefaultImages = "/usr/share/doc/opencv-doc/examples/data";

    // --- run ---
    [JsonPropertyName("recipe")] public string Recipe { get; set; } = "d2net";
    [JsonPropertyName("out")] public string Out { get; set; } = "runs/d2net-tiny";
    [JsonPropertyName("device")] public string Device { get; set; } = "cpu";
    [JsonPropertyName("threads")] public int Threads { get; set; }  // 0 = one per core
    [JsonPropertyName("seed")] public long Seed { get; set; }
    // 5–8 minutes of tiny-model training on 2 cores (6–10 steps/s on this VM), so setup + train + eval take up to ~10 (README: default run).
    [JsonPropertyName("steps")] public long Steps { get; set; } = 3000;
    [JsonPropertyName("checkpoint_every")] public long CheckpointEvery { get; set; } = 500;
    [JsonPropertyName("keep_checkpoints")] public int KeepCheckpoints { get; set; } = 3;
    [JsonPropertyName("log_every")] public long LogEvery { get; set; } = 50;  // plain progress lines and metrics.csv flushes
    [JsonPropertyName("eval_after")] public bool EvalAfter { get; set; } = true;

    // --- model ---
    [JsonPropertyName("model")] public string Model { get; set; } = "tiny";
    [JsonPropertyName("vgg16_weights")] public string? Vgg16Weights { get; set; }
    [JsonPropertyName("finetune")] public string Finetune { get; set; } = "conv4_3";  // vgg16: conv4_3 (D2-Net) | all

    // --- optimisation ---
    [JsonPropertyName("batch_size")] public int BatchSize { get; set; } = 2;
    [JsonPropertyName("lr")] public double Lr { get; set; } = 3e-3;  // tiny from scratch: 3e-3 beat 1e-3 over 800 steps (loss 0.87 vs 0.89)
    [JsonPropertyName("lr_schedule")] public string LrSchedule { get; set; } = "cosine";  // cosine | step | constant
    [JsonPropertyName("warmup_steps")] public long WarmupSteps { get; set; } = 100;
    [JsonPropertyName("lr_final_factor")] public double LrFinalFactor { get; set; } = 0.05;  // cosine end / step factor
    [JsonPropertyName("weight_decay")] public double WeightDecay { get; set; }
    [JsonPropertyName("grad_clip")] public double GradClip { get; set; }  // max global norm; 0 = off
    [JsonPropertyName("margin")] public double Margin { get; set; } = 1;
    [JsonPropertyName("safe_radius")] public double SafeRadius { get; set; } = 4;

    // --- data ---
    [JsonPropertyName("images")] public string Images { get; set; } = DefaultImages;
    [JsonPropertyName("crop_size")] public int CropSize { get; set; } = 256;
    [JsonPropertyName("zoom_min")] public double ZoomMin { get; set; } = 0.8;
    [JsonPropertyName("zoom_max")] public double ZoomMax { get; set; } = 1.0;
    [JsonPropertyName("perspective_min")] public double PerspectiveMin { get; set; } = 0.6;
    [JsonPropertyName("rotation_deg")] public double RotationDeg { get; set; } = 15;
    [JsonPropertyName("shift")] public double Shift { get; set; } = 0.1;
    [JsonPropertyName("brightness")] public double Brightness { get; set; } = 0.15;
    [JsonPropertyName("contrast")] public double Contrast { get; set; } = 0.25;
    [JsonPropertyName("blur_prob")] public double BlurProb { get; set; } = 0.3;
    [JsonPropertyName("noise_std")] public double NoiseStd { get; set; } = 0.02;
    [JsonPropertyName("min_crop_std")] public double MinCropStd { get; set; } = 12;  // grey levels: flatter crops are rejected
    [JsonPropertyName("min_correspondences")] public int MinCorrespondences { get; set; } = 64;
    [JsonPropertyName("loader_threads")] public int LoaderThreads { get; set; } = 1;
    [JsonPropertyName("prefetch")] public int Prefetch { get; set; } = 4;

    // --- eval ---
    [JsonPropertyName("eval_detection")] public string EvalDetection { get; set; } = "hard";  // hard | soft
    [JsonPropertyName("eval_budget")] public int EvalBudget { get; set; } = 2000;
    [JsonPropertyName("eval_edge_threshold")] public double EvalEdgeThreshold { get; set; } = 7.2;
    [JsonPropertyName("eval_refine")] public bool EvalRefine { get; set; } = true;  // hard detection: D2-Net's sub-cell Newton step
    [JsonPropertyName("eval_dense")] public bool EvalDense { get; set; } = true;  // D2-Net test-time: last pool → avg stride 1, dilated convs
    [JsonPropertyName("eval_synthetic_pairs")] public int EvalSyntheticPairs { get; set; } = 16;
    [JsonPropertyName("eval_crop_size")] public int EvalCropSize { get; set; } = 384;
    [JsonPropertyName("eval_seed")] public long EvalSeed { get; set; } = 20240601;
    [JsonPropertyName("eval_ransac_threshold")] public double EvalRansacThreshold { get; set; } = 3;
    [JsonPropertyName("eval_pairs")] public string? EvalPairs { get; set; }  // an HPatches-format folder

    private static readonly Dictionary<string, PropertyInfo> Keys = typeof(TrainConfig).GetProperties()
        .Where(p => p.GetCustomAttribute<JsonPropertyNameAttribute>() != null)
        .ToDictionary(p => p.GetCustomAttribute<JsonPropertyNameAttribute>()!.Name);

    public static IReadOnlyCollection<string> KeyNames => Keys.Keys;

    public static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

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

    /// <summary>Sets the keys present in <paramref name="json"/> (an object of settings) on this config.</summary>
    public TrainConfig Overlay(string json, string origin)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(json); }
        catch (JsonException e) { throw new ConfigException($"{origin} is not valid JSON: {e.Message}"); }
        if (root is not JsonObject obj) throw new ConfigException($"{origin}: expected a JSON object of settings, got {root?.GetValueKind().ToString() ?? "null"}");
        try { foreach (var (key, node) in obj) Set(key, node); }
        catch (ConfigException e) { throw new ConfigException($"{origin}: {e.Message}"); }
        return this;
    }

    /// <summary>Sets one key from command-line text: JSON (numbers, true/false, null, "quoted") or a bare string.</summary>
    public void Set(string key, string text)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(text); }
        catch (JsonException) { node = JsonValue.Create(text); }
        Set(key, node);
    }

    public void Set(string key, JsonNode? node)
    {
        if (!Keys.TryGetValue(key, out var p))
            throw new ConfigException($"config: unknown key '{key}'; known keys: {string.Join(", ", Keys.Keys.Order(StringComparer.Ordinal))}");
        var type = p.PropertyType;
        string got = node is null ? "null" : node.ToJsonString();
        try
        {
            if (node is null)
            {
                if (type != typeof(string) || !IsNullable(p)) throw new ConfigException($"config '{key}': expected {Describe(type)}, got null");
                p.SetValue(this, null);
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
                _ => throw new InvalidOperationException($"config '{key}' has unsupported type {type}"),
            };
            p.SetValue(this, value);
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or OverflowException or ArgumentException)
        {
            throw new ConfigException($"config '{key}': expected {Describe(type)}, got {got}");
        }
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
        t == typeof(int) || t == typeof(long) ? "an integer" : t == typeof(double) ? "a number" : t == typeof(bool) ? "true or false" : "a string";

    /// <summary>Every range rule; the first violation throws with key, expected and received.</summary>
    public void Validate()
    {
        OneOf("recipe", Recipe, "d2net");
        OneOf("device", Device, "cpu", "cuda");
        OneOf("model", Model, "tiny", "vgg16");
        OneOf("finetune", Finetune, "conv4_3", "all");
        OneOf("lr_schedule", LrSchedule, "cosine", "step", "constant");
        OneOf("eval_detection", EvalDetection, "hard", "soft");
        if (string.IsNullOrWhiteSpace(Out)) throw new ConfigException("config 'out': expected a directory path, got an empty string");
        if (string.IsNullOrWhiteSpace(Images)) throw new ConfigException("config 'images': expected a folder of images, got an empty string");
        Check("threads", Threads, Threads >= 0, "an integer ≥ 0 (0 = one per core)");
        Check("steps", Steps, Steps >= 1, "an integer ≥ 1");
        Check("checkpoint_every", CheckpointEvery, CheckpointEvery >= 1, "an integer ≥ 1");
        Check("keep_checkpoints", KeepCheckpoints, KeepCheckpoints >= 1, "an integer ≥ 1");
        Check("log_every", LogEvery, LogEvery >= 1, "an integer ≥ 1");
        Check("batch_size", BatchSize, BatchSize is >= 1 and <= 256, "an integer in [1, 256]");
        Check("lr", Lr, Lr > 0 && double.IsFinite(Lr), "a number > 0");
        Check("warmup_steps", WarmupSteps, WarmupSteps >= 0, "an integer ≥ 0");
        Check("lr_final_factor", LrFinalFactor, LrFinalFactor is >= 0 and <= 1, "a number in [0, 1]");
        Check("weight_decay", WeightDecay, WeightDecay >= 0, "a number ≥ 0");
        Check("grad_clip", GradClip, GradClip >= 0, "a number ≥ 0 (0 = off)");
        Check("margin", Margin, Margin > 0, "a number > 0");
        Check("safe_radius", SafeRadius, SafeRadius >= 0, "a number ≥ 0");
        Check("crop_size", CropSize, CropSize is >= 32 and <= 2048 && CropSize % 8 == 0, "a multiple of 8 in [32, 2048]");
        Check("zoom_min", ZoomMin, ZoomMin is > 0 and <= 4, "a number in (0, 4]");
        Check("zoom_max", ZoomMax, ZoomMax >= ZoomMin && ZoomMax <= 4, $"a number in [zoom_min = {Fmt(ZoomMin)}, 4]");
        Check("perspective_min", PerspectiveMin, PerspectiveMin is > 0 and <= 1, "a number in (0, 1]");
        Check("rotation_deg", RotationDeg, RotationDeg is >= 0 and <= 180, "a number in [0, 180]");
        Check("shift", Shift, Shift is >= 0 and <= 0.5, "a number in [0, 0.5]");
        Check("brightness", Brightness, Brightness is >= 0 and <= 1, "a number in [0, 1]");
        Check("contrast", Contrast, Contrast is >= 0 and < 1, "a number in [0, 1)");
        Check("blur_prob", BlurProb, BlurProb is >= 0 and <= 1, "a probability in [0, 1]");
        Check("noise_std", NoiseStd, NoiseStd is >= 0 and <= 1, "a number in [0, 1]");
        Check("min_crop_std", MinCropStd, MinCropStd >= 0, "a number ≥ 0");
        Check("min_correspondences", MinCorrespondences, MinCorrespondences >= 1, "an integer ≥ 1");
        Check("loader_threads", LoaderThreads, LoaderThreads is >= 1 and <= 64, "an integer in [1, 64]");
        Check("prefetch", Prefetch, Prefetch is >= 1 and <= 1024, "an integer in [1, 1024]");
        Check("eval_budget", EvalBudget, EvalBudget >= 1, "an integer ≥ 1");
        Check("eval_edge_threshold", EvalEdgeThreshold, EvalEdgeThreshold > 0, "a number > 0");
        Check("eval_synthetic_pairs", EvalSyntheticPairs, EvalSyntheticPairs >= 0, "an integer ≥ 0");
        Check("eval_crop_size", EvalCropSize, EvalCropSize is >= 32 and <= 4096 && EvalCropSize % 8 == 0, "a multiple of 8 in [32, 4096]");
        Check("eval_ransac_threshold", EvalRansacThreshold, EvalRansacThreshold > 0, "a number > 0");
        if (Model == "tiny" && Vgg16Weights != null)
            throw new ConfigException($"config 'vgg16_weights': only used with model vgg16, got '{Vgg16Weights}' with model tiny");
    }

    /// <summary>The model kind of a validated <c>model</c> setting.</summary>
    public static LocalFeat.Models.FeatureNetKind ModelKind(string name) => name switch
    {
        "tiny" => LocalFeat.Models.FeatureNetKind.Tiny,
        "vgg16" => LocalFeat.Models.FeatureNetKind.Vgg16,
        _ => throw new ConfigException($"config 'model': expected one of tiny | vgg16, got '{name}'"),
    };

    private static string Fmt(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static void Check(string key, double value, bool ok, string expected)
    {
        if (!ok) throw new ConfigException($"config '{key}': expected {expected}, got {Fmt(value)}");
    }

    private static void OneOf(string key, string value, params string[] allowed)
    {
        if (!allowed.Contains(value)) throw new ConfigException($"config '{key}': expected one of {string.Join(" | ", allowed)}, got '{value}'");
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public TrainConfig Clone() => Parse(ToJson(), "config");
}
