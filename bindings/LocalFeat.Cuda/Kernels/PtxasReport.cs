using System.Globalization;
using System.Text.RegularExpressions;

namespace LocalFeat.Cuda.Kernels;

/// <summary>Resources of one kernel (entry function) as ptxas reports them with <c>-Xptxas -v</c>.</summary>
public sealed record KernelResources(
    string Kernel,
    string Arch,
    int Registers,
    int StaticSharedBytes,
    int StackFrameBytes,
    int SpillStoreBytes,
    int SpillLoadBytes);

/// <summary>Stack frame and spills of any function ptxas compiled: kernels and non-inlined device functions.</summary>
public sealed record FunctionFrame(string Function, int StackFrameBytes, int SpillStoreBytes, int SpillLoadBytes);

/// <summary>
/// Parses the <c>ptxas info</c> lines that NVRTC puts in the program log when compiling to CUBIN with
/// <c>-Xptxas -v</c> (verified with NVRTC 11.8 for sm_80/sm_90):
/// <code>
/// ptxas info    : Compiling entry function 'k' for 'sm_90'
/// ptxas info    : Function properties for k
/// ptxas         .     256 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
/// ptxas info    : Used 32 registers, 1024 bytes smem, 364 bytes cmem[0]
/// </code>
/// A non-inlined device function gets its own "Function properties" block without "Used" line; its spills
/// are real spills too, so <see cref="Functions"/> lists every block.
/// </summary>
public sealed partial class PtxasReport
{
    private PtxasReport(IReadOnlyList<KernelResources> kernels, IReadOnlyList<FunctionFrame> functions)
    {
        Kernels = kernels;
        Functions = functions;
    }

    /// <summary>Entry functions in log order.</summary>
    public IReadOnlyList<KernelResources> Kernels { get; }

    /// <summary>Every function with a "Function properties" block (kernels and device functions).</summary>
    public IReadOnlyList<FunctionFrame> Functions { get; }

    /// <summary>Total spill bytes (stores + loads) over every function.</summary>
    public int TotalSpillBytes => Functions.Sum(f => f.SpillStoreBytes + f.SpillLoadBytes);

    public static PtxasReport Parse(string log)
    {
        var frames = new Dictionary<string, FunctionFrame>(StringComparer.Ordinal);
        var frameOrder = new List<string>();
        var entries = new List<(string Name, string Arch, int Regs, int Smem)>();
        string? propertiesOf = null;
        string? entry = null, entryArch = null;

        foreach (var rawLine in log.Split('\n'))
        {
            var line = rawLine.TrimEnd('\r');
            Match m;
            if ((m = EntryRegex().Match(line)).Success)
            {
                entry = m.Groups["name"].Value;
                entryArch = m.Groups["arch"].Value;
                propertiesOf = null;
            }
            else if ((m = PropertiesRegex().Match(line)).Success)
            {
                propertiesOf = m.Groups["name"].Value;
            }
            else if ((m = FrameRegex().Match(line)).Success)
            {
                if (propertiesOf is null)
                    throw new FormatException($"ptxas report: stack frame line without a 'Function properties' line before it: {line}");
                if (frames.TryAdd(propertiesOf, new FunctionFrame(propertiesOf, Int(m, "stack"), Int(m, "st"), Int(m, "ld"))))
                    frameOrder.Add(propertiesOf);
                propertiesOf = null;
            }
            else if ((m = UsedRegex().Match(line)).Success)
            {
                if (entry is null)
                    throw new FormatException($"ptxas report: 'Used' line outside an entry function: {line}");
                var smem = SmemRegex().Match(line);
                entries.Add((entry, entryArch!, Int(m, "regs"), smem.Success ? Int(smem, "smem") : 0));
                entry = null;
            }
        }

        var kernels = entries.Select(e =>
        {
            // ptxas always prints the properties block of an entry; a missing one means the log format changed.
            if (!frames.TryGetValue(e.Name, out var f))
                throw new FormatException($"ptxas report: no 'Function properties' block for entry {e.Name}");
            return new KernelResources(e.Name, e.Arch, e.Regs, e.Smem, f.StackFrameBytes, f.SpillStoreBytes, f.SpillLoadBytes);
        }).ToArray();
        return new PtxasReport(kernels, frameOrder.Select(n => frames[n]).ToArray());
    }

    private static int Int(Match m, string group) => int.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^ptxas info\s*: Compiling entry function '(?<name>[^']+)' for '(?<arch>[^']+)'")]
    private static partial Regex EntryRegex();

    [GeneratedRegex(@"^ptxas info\s*: Function properties for (?<name>\S+)")]
    private static partial Regex PropertiesRegex();

    [GeneratedRegex(@"^ptxas\s+\.\s+(?<stack>\d+) bytes stack frame, (?<st>\d+) bytes spill stores, (?<ld>\d+) bytes spill loads")]
    private static partial Regex FrameRegex();

    [GeneratedRegex(@"^ptxas info\s*: Used (?<regs>\d+) registers")]
    private static partial Regex UsedRegex();

    [GeneratedRegex(@"(?<smem>\d+) bytes smem")]
    private static partial Regex SmemRegex();
}
