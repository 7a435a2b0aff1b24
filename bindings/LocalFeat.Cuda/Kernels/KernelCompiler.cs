using LocalFeat.Cuda.Nvrtc;

namespace LocalFeat.Cuda.Kernels;

/// <summary>A compiled kernel file: the module image for one target, the NVRTC log, and the cache key.</summary>
public sealed class CompiledModule
{
    internal CompiledModule(string file, KernelTarget target, byte[] image, string log, string key)
    {
        File = file;
        Target = target;
        Image = image;
        Log = log;
        Key = key;
    }

    public string File { get; }
    public KernelTarget Target { get; }

    /// <summary>CUBIN bytes, or NUL-terminated PTX; what <c>cuModuleLoadData</c> takes.</summary>
    public byte[] Image { get; }

    /// <summary>NVRTC's program log; for a CUBIN it holds the ptxas report (see <see cref="Resources"/>).</summary>
    public string Log { get; }

    /// <summary>SHA-256 (hex) of sources, headers, options, NVRTC version and target.</summary>
    public string Key { get; }

    /// <summary>The ptxas resource report parsed from <see cref="Log"/> (empty for PTX: ptxas did not run).</summary>
    public PtxasReport Resources => PtxasReport.Parse(Log);
}

/// <summary>Compiles kernel files with NVRTC, with the options LocalFeat uses everywhere (runtime, cache, report).</summary>
public static class KernelCompiler
{
    /// <summary>
    /// NVRTC options for a target. <c>-Xptxas -v</c> makes ptxas write registers, shared memory and spill bytes
    /// into the program log (only for CUBIN targets; ptxas does not run for PTX). No fast-math: the kernels must
    /// agree with the host emulation and the references within the tolerances of OPS.md.
    /// </summary>
    public static IReadOnlyList<string> Options(KernelTarget target)
    {
        var options = new List<string> { $"--gpu-architecture={target.ArchName}", "--std=c++17" };
        if (target.Kind == NvrtcOutputKind.Cubin)
            options.AddRange(["-Xptxas", "-v"]);
        return options;
    }

    /// <summary>Compiles <paramref name="file"/> of <paramref name="sources"/> (with all its headers) for <paramref name="target"/>; no cache.</summary>
    public static CompiledModule Compile(KernelSources sources, string file, KernelTarget target)
    {
        var options = Options(target);
        var output = NvrtcCompiler.Compile(file, sources.Read(file), sources.Headers, options, target.Kind);
        return new CompiledModule(file, target, output.Image, output.Log, KernelCache.ComputeKey(sources, file, target, options));
    }
}
