using System.Text.Json;
using System.Text.Json.Nodes;
using LocalFeat.Models;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace LocalFeat.Train.Training;

/// <summary>
/// Checkpoints of a run: <c>OUT/checkpoints/step-NNNNNNNN/</c> holding model.safetensors, optimizer.pth (a PyTorch optimizer state_dict, through TorchSharp.PyBridge) and
/// state.json (step, resolved config, RNG state), plus <c>OUT/checkpoints/latest</c> naming the newest. A checkpoint
/// is written into a temporary folder, flushed, renamed into place, and only then made latest (temp file + rename),
/// so a crash at any point leaves the previous checkpoint complete and current.
/// </summary>
public static class Checkpoint
{
    public const string ModelFile = "model.safetensors";
    public const string OptimizerFile = "optimizer.pth";
    public const string StateFile = "state.json";
    private const string LatestFile = "latest";
    private const int Format = 2;  // 2: TorchSharp/PyBridge files (optimizer.pth)

    public static string Folder(string runDir) => Path.Combine(runDir, "checkpoints");

    /// <param name="afterFile">test hook, called after each file of the new checkpoint is written (may throw).</param>
    public static string Save(string runDir, FeatureNet model, OptimizerHelper optimizer, long step, TrainConfig config,
        Action<string>? afterFile = null)
    {
        string root = Folder(runDir);
        Directory.CreateDirectory(root);
        string name = $"step-{step:D8}";
        string final = Path.Combine(root, name);
        string tmp = Path.Combine(root, $".{name}.tmp-{Environment.ProcessId}");
        if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        Directory.CreateDirectory(tmp);

        model.save_safetensors(Path.Combine(tmp, ModelFile));
        Flush(Path.Combine(tmp, ModelFile));
        afterFile?.Invoke(ModelFile);

        optimizer.save_py(Path.Combine(tmp, OptimizerFile));
        Flush(Path.Combine(tmp, OptimizerFile));
        afterFile?.Invoke(OptimizerFile);

        using var rng = torch.random.get_rng_state();
        var state = new JsonObject
        {
            ["format"] = Format,
            ["step"] = step,
            ["model"] = ModelName(model.Kind),
            ["saved_utc"] = DateTime.UtcNow.ToString("O"),
            ["torch_rng"] = Convert.ToBase64String(rng.Values<byte>()),
            ["config"] = JsonNode.Parse(config.ToJson()),
        };
        WriteDurable(Path.Combine(tmp, StateFile), state.ToJsonString(TrainConfig.Json));
        afterFile?.Invoke(StateFile);

        if (Directory.Exists(final)) Directory.Delete(final, recursive: true);  // an older run's step-N being redone
        Directory.Move(tmp, final);
        WriteDurable(Path.Combine(root, LatestFile + ".tmp"), name);
        File.Move(Path.Combine(root, LatestFile + ".tmp"), Path.Combine(root, LatestFile), overwrite: true);
        Prune(root, config.Run.KeepCheckpoints, name);
        return final;
    }

    /// <summary>The config name of a model kind ("tiny", "vgg16").</summary>
    public static string ModelName(FeatureNetKind kind) => TrainConfig.EnumName(kind);

    private static FeatureNetKind ParseModel(string name, string file) =>
        Enum.GetValues<FeatureNetKind>().FirstOrDefault(k => ModelName(k) == name, (FeatureNetKind)(-1)) is var k && Enum.IsDefined(k)
            ? k : throw new InvalidDataException($"'{file}': unknown model '{name}' (expected {string.Join(" | ", TrainConfig.EnumNames(typeof(FeatureNetKind)))})");

    // The PyBridge writers close their files without fsync: flush them before the rename makes them current.
    private static void Flush(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        fs.Flush(flushToDisk: true);
    }

    private static void WriteDurable(string path, string text)
    {
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write);
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);
        fs.Write(bytes);
        fs.Flush(flushToDisk: true);
    }

    // Keeps the newest `keep` checkpoints (the latest always) and removes leftovers of interrupted writes.
    private static void Prune(string root, int keep, string latest)
    {
        foreach (var dir in Directory.GetDirectories(root, ".step-*.tmp-*")) TryDelete(dir);
        var all = Directory.GetDirectories(root, "step-*").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        foreach (var old in all.Take(Math.Max(0, all.Count - keep)))
            if (old != latest) TryDelete(Path.Combine(root, old!));
    }

    private static void TryDelete(string dir)
    {
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>
    /// The checkpoint folder named by <paramref name="path"/>: a run folder (its latest), a checkpoints folder,
    /// a checkpoint folder, or one of its files.
    /// </summary>
    public static string Locate(string path)
    {
        if (File.Exists(path)) path = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(path)) throw new FileNotFoundException($"checkpoint not found: '{path}' (expected a run folder, a checkpoint folder or its state.json)");
        if (File.Exists(Path.Combine(path, StateFile))) return path;
        foreach (var root in new[] { Folder(path), path })
        {
            string latest = Path.Combine(root, LatestFile);
            if (File.Exists(latest))
            {
                string dir = Path.Combine(root, File.ReadAllText(latest).Trim());
                if (!File.Exists(Path.Combine(dir, StateFile)))
                    throw new InvalidDataException($"'{latest}' names '{dir}', which is not a complete checkpoint");
                return dir;
            }
        }
        throw new FileNotFoundException($"no checkpoint in '{path}': expected checkpoints/latest or {StateFile}");
    }

    public sealed record Info(string Folder, long Step, TrainConfig Config, FeatureNetKind Model, byte[] TorchRng);

    public static Info ReadInfo(string path)
    {
        string dir = Locate(path);
        string file = Path.Combine(dir, StateFile);
        JsonObject state;
        try { state = JsonNode.Parse(File.ReadAllText(file))!.AsObject(); }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException)
        {
            throw new InvalidDataException($"'{file}' is not a valid checkpoint state: {e.Message}");
        }
        int format = state["format"]?.GetValue<int>() ?? 0;
        if (format != Format) throw new InvalidDataException($"'{file}': checkpoint format {format}, this build reads format {Format}");
        var config = TrainConfig.Parse(state["config"]!.ToJsonString(), $"config in '{file}'");
        config.Validate();
        return new Info(dir, state["step"]!.GetValue<long>(), config, ParseModel(state["model"]!.GetValue<string>(), file),
            Convert.FromBase64String(state["torch_rng"]!.GetValue<string>()));
    }

    /// <summary>Builds the checkpoint's model with its weights.</summary>
    public static FeatureNet LoadModel(Info info)
    {
        var model = FeatureNet.Create(info.Model);
        try { model.load_safetensors(Path.Combine(info.Folder, ModelFile)); }
        catch (Exception e) when (e is not (OutOfMemoryException or FileNotFoundException))
        {
            model.Dispose();
            throw new InvalidDataException($"'{Path.Combine(info.Folder, ModelFile)}' does not hold {ModelName(info.Model)} weights: {e.Message}", e);
        }
        return model;
    }

    /// <summary>Restores the optimizer state, its moment tensors moved to <paramref name="device"/> (the parameters' device).</summary>
    public static void LoadOptimizer(Info info, OptimizerHelper optimizer, Device device)
    {
        string path = Path.Combine(info.Folder, OptimizerFile);
        try { optimizer.load_py(path); }
        catch (Exception e) when (e is not (OutOfMemoryException or FileNotFoundException))
        {
            throw new InvalidDataException($"'{path}' is not this run's optimizer state: {e.Message}", e);
        }
        // load_py leaves the moments where the file had them (CPU); Adam steps with its parameters' device.
        optimizer.to(device);
    }

    public static void RestoreRng(Info info)
    {
        using var t = torch.tensor(info.TorchRng);
        torch.random.set_rng_state(t);
    }
}
