using System.Text.Json;
using System.Text.Json.Nodes;
using LocalFeat.Models;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.PyBridge;
using LocalFeat.Train.Training.Recipes;
using static TorchSharp.torch;

namespace LocalFeat.Train.Training;

/// <summary>
/// Checkpoints of a run: <c>OUT/checkpoints/step-NNNNNNNN/</c> holding model.safetensors, optimizer.pth (a PyTorch optimizer state_dict, through TorchSharp.PyBridge) and
/// state.json (step, recipe, resolved config, RNG state), recipe.safetensors where the recipe carries state of its own (tasp's DIW
/// histogram; tpr's target network, projector and predictor), plus <c>OUT/checkpoints/latest</c> naming the newest. A checkpoint
/// is written into a temporary folder, flushed, renamed into place, and only then made latest (temp file + rename),
/// so a crash at any point leaves the previous checkpoint complete and current.
/// </summary>
public static class Checkpoint
{
    public const string ModelFile = "model.safetensors";
    public const string OptimizerFile = "optimizer.pth";
    public const string StateFile = "state.json";
    public const string RecipeFile = "recipe.safetensors";
    private const string LatestFile = "latest";
    /// <summary>Empty file that readers hold a shared lock on, so pruning skips the checkpoint they read.</summary>
    public const string PinFile = ".pin";
    // 2: TorchSharp/PyBridge files (optimizer.pth), d2net only; 3: + "recipe" and recipe.safetensors. Both are read.
    private const int Format = 3, OldestFormat = 2;

    public static string Folder(string runDir) => Path.Combine(runDir, "checkpoints");

    /// <param name="afterFile">test hook, called after each file of the new checkpoint is written (may throw).</param>
    /// <param name="recipe">the run's recipe, whose <see cref="IRecipe.State"/> (if any) is saved as recipe.safetensors.</param>
    public static string Save(string runDir, FeatureNet model, OptimizerHelper optimizer, long step, TrainConfig config,
        Action<string>? afterFile = null, IRecipe? recipe = null)
    {
        string root = Folder(runDir);
        Directory.CreateDirectory(root);
        string name = $"step-{step:D8}";
        string final = Path.Combine(root, name);
        string tmp = Path.Combine(root, $".{name}.tmp-{Environment.ProcessId}");
        if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        try
        {
            Directory.CreateDirectory(tmp);
            File.WriteAllBytes(Path.Combine(tmp, PinFile), []);

            model.save_safetensors(Path.Combine(tmp, ModelFile));
            Flush(Path.Combine(tmp, ModelFile));
            afterFile?.Invoke(ModelFile);

            optimizer.save_py(Path.Combine(tmp, OptimizerFile));
            Flush(Path.Combine(tmp, OptimizerFile));
            afterFile?.Invoke(OptimizerFile);

            if (recipe?.State is { } recipeState)
            {
                recipe.BeforeSave();
                recipeState.save_safetensors(Path.Combine(tmp, RecipeFile));
                Flush(Path.Combine(tmp, RecipeFile));
                afterFile?.Invoke(RecipeFile);
            }

            using var rng = torch.random.get_rng_state();
            var state = new JsonObject
            {
                ["format"] = Format,
                ["step"] = step,
                ["model"] = ModelName(model.Kind),
                ["recipe"] = TrainConfig.EnumName(recipe?.Kind ?? config.Run.Recipe),
                ["saved_utc"] = DateTime.UtcNow.ToString("O"),
                ["torch_rng"] = Convert.ToBase64String(rng.Values<byte>()),
                ["config"] = JsonNode.Parse(config.ToJson()),
            };
            WriteDurable(Path.Combine(tmp, StateFile), state.ToJsonString(TrainConfig.Json));
            afterFile?.Invoke(StateFile);

            if (Directory.Exists(final)) Directory.Delete(final, recursive: true);  // an older run's step-N being redone
            Directory.Move(tmp, final);
            AtomicFile.WriteAllText(Path.Combine(root, LatestFile), name);
        }
        catch (IOException e)
        {
            // A full disk or a vanished folder: `latest` still names the last complete checkpoint. The partial copy is
            // removed by the next save or the next start (CleanStale), as after a kill.
            throw new IOException($"checkpoint of step {step} not written into '{root}': {e.Message}; {Current(root)}", e);
        }
        Prune(root, config.Run.KeepCheckpoints, name);
        return final;
    }

    private static string Current(string root)
    {
        try { return File.Exists(Path.Combine(root, LatestFile)) ? $"the last complete checkpoint, {File.ReadAllText(Path.Combine(root, LatestFile)).Trim()}, stays current" : "no checkpoint was completed"; }
        catch (IOException) { return "the last complete checkpoint stays current"; }
    }

    /// <summary>Removes what interrupted writes leave behind (partial checkpoints, a half-written latest); call with the run lock held.</summary>
    public static void CleanStale(string runDir)
    {
        string root = Folder(runDir);
        if (!Directory.Exists(root)) return;
        foreach (var dir in Directory.GetDirectories(root, ".step-*")) TryDelete(dir);
        foreach (var file in Directory.GetFiles(root, LatestFile + ".tmp*"))
            try { File.Delete(file); } catch (IOException) { } catch (UnauthorizedAccessException) { }
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

    // Keeps the newest `keep` checkpoints (the latest always) and removes leftovers of interrupted writes; a checkpoint
    // pinned by a reader (eval, extract, match) is kept until a later prune.
    private static void Prune(string root, int keep, string latest)
    {
        foreach (var dir in Directory.GetDirectories(root, ".step-*.tmp-*")) TryDelete(dir);
        var all = Directory.GetDirectories(root, "step-*").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        foreach (var old in all.Take(Math.Max(0, all.Count - keep)))
            if (old != latest) TryRemove(root, old!);
    }

    private static void TryRemove(string root, string name)
    {
        string dir = Path.Combine(root, name), pin = Path.Combine(dir, PinFile);
        FileStream? exclusive = null;
        try
        {
            // FileShare.None is an exclusive flock: it fails while a reader holds its shared one.
            if (File.Exists(pin)) exclusive = new FileStream(pin, FileMode.Open, FileAccess.Read, FileShare.None);
            // Renamed away first, so a reader that locates it from now on finds no folder rather than a half-deleted one.
            string doomed = Path.Combine(root, $".{name}.tmp-prune-{Environment.ProcessId}");
            Directory.Move(dir, doomed);
            exclusive?.Dispose();
            exclusive = null;
            TryDelete(doomed);
        }
        catch (IOException) { }  // pinned, or already gone: a later prune retries
        catch (UnauthorizedAccessException) { }
        finally { exclusive?.Dispose(); }
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
                string named = File.ReadAllText(latest).Trim();
                // Only a step folder beside `latest`: a path would let a run folder point readers anywhere.
                if (!System.Text.RegularExpressions.Regex.IsMatch(named, @"^step-[0-9]{8,}$"))
                    throw new InvalidDataException($"'{latest}': expected the name of a checkpoint folder beside it (step-NNNNNNNN), got '{named}'");
                string dir = Path.Combine(root, named);
                if (!File.Exists(Path.Combine(dir, StateFile)))
                    throw new InvalidDataException($"'{latest}' names '{dir}', which is not a complete checkpoint");
                return dir;
            }
        }
        throw new FileNotFoundException($"no checkpoint in '{path}': expected checkpoints/latest or {StateFile}");
    }

    /// <param name="Recipe">the recipe that wrote it (format 2: d2net, the only one then).</param>
    public sealed record Info(string Folder, long Step, TrainConfig Config, FeatureNetKind Model, byte[] TorchRng, Settings.Recipe Recipe);

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
        int format = Field(state, "format", file, n => n.GetValue<int>(), "an integer");
        if (format < OldestFormat || format > Format) throw new InvalidDataException($"'{file}': checkpoint format {format}, this build reads formats {OldestFormat} to {Format}");
        var recipe = Settings.Recipe.D2net;
        if (format >= 3)
        {
            string name = Field(state, "recipe", file, n => n.GetValue<string>(), "a recipe name");
            var known = Enum.GetValues<Settings.Recipe>().Where(r => TrainConfig.EnumName(r) == name).ToList();
            if (known.Count == 0) throw new InvalidDataException($"'{file}': field 'recipe': expected one of {string.Join(" | ", TrainConfig.EnumNames(typeof(Settings.Recipe)))}, got '{Clip(name)}'");
            recipe = known[0];
        }
        long step = Field(state, "step", file, n => n.GetValue<long>(), "an integer ≥ 0");
        if (step < 0) throw new InvalidDataException($"'{file}': field 'step': expected an integer ≥ 0, got {step}");
        string model = Field(state, "model", file, n => n.GetValue<string>(), "a model name");
        string rngText = Field(state, "torch_rng", file, n => n.GetValue<string>(), "base64 text");
        byte[] rng;
        try { rng = Convert.FromBase64String(rngText); }
        catch (FormatException) { throw new InvalidDataException($"'{file}': field 'torch_rng': expected base64 text of libtorch's RNG state, got '{Clip(rngText)}'"); }
        using (var current = torch.random.get_rng_state())
            if (rng.Length != current.numel())
                throw new InvalidDataException($"'{file}': field 'torch_rng': expected {current.numel()} bytes of libtorch's CPU RNG state, got {rng.Length}");
        if (state["config"] is not JsonObject configNode) throw new InvalidDataException($"'{file}': field 'config': expected an object of settings");
        var config = TrainConfig.Parse(configNode.ToJsonString(), $"config in '{file}'");
        // run.threads is bounded by this machine's cores: a run trained on a larger machine runs here with one per core.
        if (config.Run.Threads > TrainConfig.MaxThreads) config.Run.Threads = 0;
        config.Validate();
        return new Info(dir, step, config, ParseModel(model, file), rng, recipe);
    }

    private static T Field<T>(JsonObject state, string name, string file, Func<JsonNode, T> read, string expected)
    {
        var node = state[name] ?? throw new InvalidDataException($"'{file}': field '{name}' is missing (expected {expected})");
        try { return read(node); }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"'{file}': field '{name}': expected {expected}, got {Clip(node.ToJsonString())}");
        }
    }

    private static string Clip(string s) => s.Length <= 40 ? s : s[..40] + "…";

    /// <summary>
    /// Opens the checkpoint named by <paramref name="path"/> for reading and pins it: pruning by a training run
    /// leaves it in place until the pin is disposed. A checkpoint pruned between locating and pinning is located again.
    /// </summary>
    public static CheckpointPin Pin(string path)
    {
        for (int attempt = 0; ; attempt++)
        {
            var info = ReadInfo(path);
            string pin = Path.Combine(info.Folder, PinFile);
            if (!File.Exists(pin)) return new CheckpointPin(info, null);  // written before pins existed (or read-only copy)
            try
            {
                // FileShare.Read on a read-only stream is a shared flock: readers coexist, pruning's exclusive one fails.
                var stream = new FileStream(pin, FileMode.Open, FileAccess.Read, FileShare.Read);
                if (File.Exists(Path.Combine(info.Folder, StateFile))) return new CheckpointPin(info, stream);
                stream.Dispose();
            }
            catch (IOException) when (attempt < 5) { }  // being pruned right now
            if (attempt >= 5) throw new InvalidDataException($"checkpoint '{info.Folder}' keeps disappearing while being opened (pruned by a running train?)");
            Thread.Sleep(50);
        }
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

    /// <summary>Restores the recipe's own state (recipe.safetensors) into <paramref name="recipe"/>; nothing for a recipe without state.</summary>
    public static void LoadRecipe(Info info, IRecipe recipe)
    {
        if (recipe.Kind != info.Recipe)
            throw new ConfigException($"config 'run.recipe': the checkpoint in '{info.Folder}' was trained with recipe {TrainConfig.EnumName(info.Recipe)}, got '{TrainConfig.EnumName(recipe.Kind)}'");
        if (recipe.State is not { } state) return;
        string path = Path.Combine(info.Folder, RecipeFile);
        if (!File.Exists(path)) throw new InvalidDataException($"'{info.Folder}': expected {RecipeFile} (the {TrainConfig.EnumName(recipe.Kind)} recipe's state), not found");
        try { state.load_safetensors(path); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"'{path}' is not this run's {TrainConfig.EnumName(recipe.Kind)} state: {e.Message.Split('\n')[0]}", e);
        }
        recipe.AfterLoad();
    }

    public static void RestoreRng(Info info)
    {
        using var t = torch.tensor(info.TorchRng);
        torch.random.set_rng_state(t);
    }
}
