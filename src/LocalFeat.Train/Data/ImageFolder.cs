using LocalFeat.Train.Vision;
using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Train.Data;

/// <summary>
/// A folder of photos (recursive; .png .jpg .jpeg .ppm .pgm .bmp) and its fixed split. Held out from training:
/// the files named in <see cref="HeldOutNames"/> (graf1.png and graf3.png among them: the real eval pair) and every
/// file whose FNV-1a hash of its relative path is 0 mod 8, so any folder gets a stable split without a list.
/// </summary>
public sealed class ImageFolder
{
    private static readonly string[] Extensions = ImageFiles.Extensions;

    /// <summary>Always held out (by file name, any folder): the Graffiti pair, the Leuven and aero pairs, and some scenes.</summary>
    public static readonly string[] HeldOutNames =
    [
        "graf1.png", "graf3.png", "leuvenA.jpg", "leuvenB.jpg", "aero1.jpg", "aero3.jpg",
        "building.jpg", "home.jpg", "fruits.jpg", "box_in_scene.png",
    ];

    public ImageFolder(string root, CancellationToken stop = default)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"image folder not found: '{root}' (config 'data.images')");
        Root = Path.GetFullPath(root);
        var all = ImageFiles.Under(Root, stop);
        if (all.Count == 0) throw new InvalidDataException($"image folder '{Root}' holds no images ({string.Join(" ", Extensions)})");
        HeldOut = all.Where(IsHeldOut).ToList();
        Train = all.Where(f => !IsHeldOut(f)).ToList();
        if (Train.Count == 0) throw new InvalidDataException($"image folder '{Root}': all {all.Count} images are held out, none left to train on");
    }

    /// <summary>Photos with a shorter side below this are skipped (a crop needs room; 1×1 or 2×5000 px images break the sampler).</summary>
    public const int MinSide = 32;

    public string Root { get; }
    public IReadOnlyList<string> Train { get; }
    public IReadOnlyList<string> HeldOut { get; }

    public static bool IsHeldOut(string relativePath) =>
        HeldOutNames.Contains(Path.GetFileName(relativePath)) || Fnv1a(relativePath.Replace('\\', '/')) % 8 == 0;

    private static uint Fnv1a(string s)
    {
        uint h = 2166136261;
        foreach (byte b in System.Text.Encoding.UTF8.GetBytes(s)) { h ^= b; h *= 16777619; }
        return h;
    }

    /// <summary>
    /// Reads the images as grey uint8 [H,W]; an unreadable one is reported to <paramref name="warn"/> and skipped.
    /// Throws when none is readable.
    /// </summary>
    public List<(string name, Tensor image)> Load(IReadOnlyList<string> relativePaths, Action<string> warn, CancellationToken stop = default)
    {
        var result = new List<(string, Tensor)>();
        foreach (var rel in relativePaths)
        {
            if (stop.IsCancellationRequested)
            {
                foreach (var (_, t) in result) t.Dispose();
                stop.ThrowIfCancellationRequested();
            }
            try { result.Add((rel, OpenCv.ReadImage(Path.Combine(Root, rel), warn: w => warn($"image '{rel}': {w}"), minSide: MinSide).DetachFromDisposeScope())); }
            catch (InvalidDataException e) { warn($"skipping image '{rel}': {e.Message}"); }
        }
        if (result.Count == 0) throw new InvalidDataException($"none of the {relativePaths.Count} images in '{Root}' could be read");
        return result;
    }
}
