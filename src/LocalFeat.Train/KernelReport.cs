using System.CommandLine;
using System.Globalization;
using System.Runtime.CompilerServices;
using LocalFeat.Cuda;
using LocalFeat.Cuda.Kernels;
using LocalFeat.Cuda.Nvrtc;

[assembly: InternalsVisibleTo("LocalFeat.Tests")]

namespace LocalFeat.Train;

/// <summary><c>localfeat kernels</c>: NVRTC resource table of every kernel (registers, shared memory, spills).</summary>
internal static class KernelReport
{
    /// <summary>Architectures every kernel must compile for (A100, H100).</summary>
    public static readonly int[] Archs = [80, 90];

    public static Command Command()
    {
        var cmd = new Command("kernels", "Compile every kernel with NVRTC for sm_80 and sm_90 and print registers, shared memory and spill bytes.");
        cmd.SetAction(_ => Run(KernelSources.Embedded, Console.Out, Console.Error));
        return cmd;
    }

    /// <summary>
    /// Compiles every <c>.cu</c> of <paramref name="sources"/> for each arch in <see cref="Archs"/> (fresh, not
    /// from the cache) and writes the ptxas resource table. Exit code: 0 all compiled; 1 no NVRTC or no
    /// kernels; 2 a file failed to compile (its log is printed); 3 a kernel spills registers.
    /// </summary>
    public static int Run(KernelSources sources, TextWriter output, TextWriter error)
    {
        if (!NvrtcCompiler.IsAvailable(out var reason))
        {
            error.WriteLine($"localfeat kernels: cannot compile kernels: {reason}");
            error.WriteLine("Install NVRTC (Debian: libnvrtc11.2 and libnvrtc-builtins11.8 from non-free) or put libnvrtc on LD_LIBRARY_PATH.");
            return 1;
        }
        output.WriteLine($"NVRTC {NvrtcCompiler.VersionString} ({NativeLibraries.NvrtcFile}); options: {string.Join(' ', KernelCompiler.Options(KernelTarget.Cubin(Archs[0])).Skip(1))}");
        if (sources.KernelFiles.Count == 0)
        {
            error.WriteLine("localfeat kernels: no kernel sources (kernels/*.cu) are embedded in LocalFeat.Cuda");
            return 1;
        }

        string[] header = ["file", "kernel", "arch", "registers", "static smem B", "stack B", "spill st B", "spill ld B"];
        var rows = new List<string[]>();
        var failed = 0;
        var spilling = 0;
        foreach (var file in sources.KernelFiles)
        foreach (var arch in Archs)
        {
            PtxasReport report;
            try
            {
                report = KernelCompiler.Compile(sources, file, KernelTarget.Cubin(arch)).Resources;
            }
            catch (CudaException e)
            {
                failed++;
                error.WriteLine($"{file} (sm_{arch}): {e.Message}");
                continue;
            }
            foreach (var k in report.Kernels)
            {
                rows.Add([file, k.Kernel, k.Arch, I(k.Registers), I(k.StaticSharedBytes), I(k.StackFrameBytes), I(k.SpillStoreBytes), I(k.SpillLoadBytes)]);
                if (k.SpillStoreBytes + k.SpillLoadBytes > 0)
                    spilling++;
            }
            // Non-inlined device functions have their own frames; a spill there is a spill of its callers.
            foreach (var f in report.Functions.Where(f => report.Kernels.All(k => k.Kernel != f.Function) && f.SpillStoreBytes + f.SpillLoadBytes > 0))
            {
                rows.Add([file, f.Function + " (device fn)", $"sm_{arch}", "", "", I(f.StackFrameBytes), I(f.SpillStoreBytes), I(f.SpillLoadBytes)]);
                spilling++;
            }
        }

        WriteTable(output, header, rows);
        output.WriteLine($"{sources.KernelFiles.Count} files, {rows.Count} rows, {failed} failed compiles, {spilling} with spills");
        return failed > 0 ? 2 : spilling > 0 ? 3 : 0;
    }

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static void WriteTable(TextWriter output, string[] header, List<string[]> rows)
    {
        var widths = header.Select((h, c) => rows.Select(r => r[c].Length).Append(h.Length).Max()).ToArray();
        // Text columns left-aligned, numbers right-aligned.
        string Line(string[] cells) => string.Join("  ", cells.Select((s, c) => c < 3 ? s.PadRight(widths[c]) : s.PadLeft(widths[c]))).TrimEnd();
        output.WriteLine(Line(header));
        output.WriteLine(string.Join("  ", widths.Select(w => new string('-', w))));
        foreach (var r in rows)
            output.WriteLine(Line(r));
    }
}
