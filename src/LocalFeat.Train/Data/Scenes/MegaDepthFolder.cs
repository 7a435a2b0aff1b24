using System.Globalization;
using System.Text.Json;
using LocalFeat.Train.Vision;
using PureHDF;
using static TorchSharp.torch;

namespace LocalFeat.Train.Data.Scenes;

/// <summary>
/// A MegaDepth-style scene folder (README: "MegaDepth-style folders"; <c>scripts/convert_megadepth.py</c> writes one from
/// D2-Net's scene_info or LoFTR's index .npz):
/// <code>
/// ROOT/images/NAME            the photos (any format OpenCV reads)
/// ROOT/depths/STEM.h5         per photo, HDF5 dataset "depth": float [H,W] of the photo's size, z in the camera frame, 0 = none
/// ROOT/cameras.json           {"NAME": {"K": [9 numbers], "pose": [16 numbers]}, ...}  (see MegaDepthCamera)
/// ROOT/pairs.txt              one pair per line: "NAME0 NAME1" (more columns, e.g. the overlap, are ignored; # comments)
/// </code>
/// </summary>
public sealed class MegaDepthFolder
{
    private MegaDepthFolder(string root, Dictionary<string, MegaDepthCamera> cameras, List<(string a, string b)> pairs)
    {
        Root = root; Cameras = cameras; Pairs = pairs;
    }

    public string Root { get; }
    public IReadOnlyDictionary<string, MegaDepthCamera> Cameras { get; }
    public IReadOnlyList<(string a, string b)> Pairs { get; }

    public static MegaDepthFolder Open(string root)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"MegaDepth folder not found: '{root}' (config 'data.megadepth')");
        string camFile = Path.Combine(root, "cameras.json"), pairFile = Path.Combine(root, "pairs.txt");
        if (!File.Exists(camFile)) throw new InvalidDataException($"'{root}': no cameras.json (the intrinsics and poses of the images)");
        if (!File.Exists(pairFile)) throw new InvalidDataException($"'{root}': no pairs.txt (one \"NAME0 NAME1\" per line)");
        var cameras = new Dictionary<string, MegaDepthCamera>(StringComparer.Ordinal);
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(camFile));
            foreach (var entry in doc.RootElement.EnumerateObject())
            {
                double[] Numbers(string key, int n)
                {
                    if (!entry.Value.TryGetProperty(key, out var a) || a.ValueKind != JsonValueKind.Array || a.GetArrayLength() != n)
                        throw new InvalidDataException($"'{camFile}': image '{entry.Name}': expected \"{key}\" as an array of {n} numbers");
                    return a.EnumerateArray().Select(v => v.GetDouble()).ToArray();
                }
                var cam = new MegaDepthCamera(Numbers("K", 9), Numbers("pose", 16));
                if (!(cam.K[0] > 0 && cam.K[4] > 0) || cam.K.Concat(cam.Pose).Any(v => !double.IsFinite(v)))
                    throw new InvalidDataException($"'{camFile}': image '{entry.Name}': expected finite numbers and focal lengths > 0");
                cameras[entry.Name] = cam;
            }
        }
        catch (JsonException e) { throw new InvalidDataException($"'{camFile}' is not valid JSON: {e.Message}"); }
        var pairs = new List<(string, string)>();
        int line = 0;
        foreach (var raw in File.ReadLines(pairFile))
        {
            line++;
            var text = raw.Split('#')[0].Trim();
            if (text.Length == 0) continue;
            var parts = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 2) throw new InvalidDataException($"'{pairFile}' line {line}: expected \"NAME0 NAME1\", got '{raw}'");
            foreach (var name in parts.Take(2))
                if (!cameras.ContainsKey(name)) throw new InvalidDataException($"'{pairFile}' line {line}: image '{name}' is not in cameras.json");
            pairs.Add((parts[0], parts[1]));
        }
        if (pairs.Count == 0) throw new InvalidDataException($"'{pairFile}': no pairs");
        return new MegaDepthFolder(root, cameras, pairs);
    }

    public string ImagePath(string name) => Path.Combine(Root, "images", name);
    public string DepthPath(string name) => Path.Combine(Root, "depths", Path.GetFileNameWithoutExtension(name) + ".h5");

    /// <summary>A grey uint8 [H,W] photo.</summary>
    public Tensor ReadImage(string name) => OpenCv.ReadImage(ImagePath(name), minSide: 32);

    /// <summary>The dataset "depth" of the image's HDF5 file (float32 or float64, [H,W]), as D2-Net's preprocessing writes it.</summary>
    public DepthMap ReadDepth(string name) => ReadDepthFile(DepthPath(name));

    public static DepthMap ReadDepthFile(string path)
    {
        if (!File.Exists(path)) throw new InvalidDataException($"depth file not found: '{path}'");
        try
        {
            using var file = H5File.OpenRead(path);
            var ds = file.Dataset("depth");
            var dims = ds.Space.Dimensions;
            if (dims.Length != 2) throw new InvalidDataException($"'{path}': dataset 'depth' has rank {dims.Length}, expected 2 ([H, W])");
            float[] values = ds.Type.Size == 8 ? ds.Read<double[]>().Select(v => (float)v).ToArray() : ds.Read<float[]>();
            return new DepthMap(checked((int)dims[1]), checked((int)dims[0]), values);
        }
        catch (Exception e) when (e is not InvalidDataException)
        {
            throw new InvalidDataException($"'{path}': cannot read the HDF5 dataset 'depth': {e.Message}");
        }
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Pairs.Count} pairs of {Cameras.Count} images in {Root}");
}
