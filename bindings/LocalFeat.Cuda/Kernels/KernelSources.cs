using System.Text;
using System.Text.RegularExpressions;

namespace LocalFeat.Cuda.Kernels;

/// <summary>
/// The kernel sources: every <c>kernels/*.cu</c> (one op family each) and <c>kernels/*.cuh</c> (headers, e.g.
/// <c>lf_prelude.cuh</c>). <see cref="Embedded"/> reads the copies embedded in this assembly, so it works
/// from any build output without the repository on disk.
/// </summary>
public sealed partial class KernelSources
{
    private const string ResourcePrefix = "kernels/";

    private static readonly Lazy<KernelSources> LazyEmbedded = new(LoadEmbedded);

    private readonly Dictionary<string, string> _files;
    private readonly Lazy<Dictionary<string, string>> _kernelToFile;

    /// <summary>Sources from an explicit map of file name (e.g. <c>my_op.cu</c>, <c>lf_prelude.cuh</c>) to text.</summary>
    public KernelSources(IEnumerable<KeyValuePair<string, string>> files)
    {
        _files = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, text) in files)
        {
            if (name.Contains('/') || name.Contains('\\'))
                throw new ArgumentException($"kernel source names are bare file names, got '{name}'", nameof(files));
            _files.Add(name, text);
        }
        KernelFiles = _files.Keys.Where(n => n.EndsWith(".cu", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray();
        Headers = _files.Where(kv => kv.Key.EndsWith(".cuh", StringComparison.Ordinal))
            .OrderBy(kv => kv.Key, StringComparer.Ordinal).ToArray();
        _kernelToFile = new Lazy<Dictionary<string, string>>(IndexKernels);
    }

    /// <summary>The sources embedded in LocalFeat.Cuda (resources named <c>kernels/&lt;file&gt;</c>).</summary>
    public static KernelSources Embedded => LazyEmbedded.Value;

    /// <summary>The <c>.cu</c> files, sorted by name.</summary>
    public IReadOnlyList<string> KernelFiles { get; }

    /// <summary>The <c>.cuh</c> headers (include name → text), sorted by name; passed to NVRTC with every compile.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; }

    /// <summary>Text of a <c>.cu</c> or <c>.cuh</c> file.</summary>
    public string Read(string file) =>
        _files.TryGetValue(file, out var text)
            ? text
            : throw new FileNotFoundException($"no kernel source '{file}'; known: {string.Join(", ", _files.Keys.Order(StringComparer.Ordinal))}", file);

    /// <summary>The <c>extern "C" __global__</c> kernels defined in <paramref name="file"/>, in source order.</summary>
    public IReadOnlyList<string> KernelsIn(string file) => FindKernels(Read(file));

    /// <summary>The <c>.cu</c> file that defines kernel <paramref name="kernel"/>.</summary>
    public string FileDefining(string kernel) =>
        _kernelToFile.Value.TryGetValue(kernel, out var file)
            ? file
            : throw new CudaException($"kernel '{kernel}' is not defined (extern \"C\" __global__) in any of: {string.Join(", ", KernelFiles)}");

    /// <summary>Kernel names declared <c>extern "C" __global__ ... void name(</c> in a source text (comments ignored).</summary>
    public static IReadOnlyList<string> FindKernels(string source)
    {
        var code = CommentRegex().Replace(source, m => m.Value.StartsWith("//", StringComparison.Ordinal) ? "" : " ");
        var names = new List<string>();
        foreach (Match m in KernelRegex().Matches(code))
            names.Add(m.Groups["name"].Value);
        return names;
    }

    private Dictionary<string, string> IndexKernels()
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in KernelFiles)
        foreach (var kernel in KernelsIn(file))
        {
            // extern "C" names share one namespace per module, but two files could still clash; say so.
            if (!map.TryAdd(kernel, file))
                throw new CudaException($"kernel '{kernel}' is defined in both {map[kernel]} and {file}");
        }
        return map;
    }

    private static KernelSources LoadEmbedded()
    {
        var asm = typeof(KernelSources).Assembly;
        var files = new List<KeyValuePair<string, string>>();
        foreach (var res in asm.GetManifestResourceNames())
        {
            if (!res.StartsWith(ResourcePrefix, StringComparison.Ordinal))
                continue;
            using var stream = asm.GetManifestResourceStream(res)!;
            using var reader = new StreamReader(stream, Encoding.UTF8);
            files.Add(new(res[ResourcePrefix.Length..], reader.ReadToEnd()));
        }
        return new KernelSources(files);
    }

    [GeneratedRegex(@"//[^\n]*|/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex CommentRegex();

    // extern "C" __global__ [__launch_bounds__(...)] void [__launch_bounds__(...)] name (
    [GeneratedRegex(@"extern\s+""C""\s+__global__\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?void\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?(?<name>[A-Za-z_]\w*)\s*\(")]
    private static partial Regex KernelRegex();
}
