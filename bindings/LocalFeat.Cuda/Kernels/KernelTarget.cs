using LocalFeat.Cuda.Nvrtc;

namespace LocalFeat.Cuda.Kernels;

/// <summary>
/// What a kernel file is compiled to: a CUBIN for a real architecture (<c>sm_XY</c>) or PTX for a virtual one
/// (<c>compute_XY</c>), <see cref="Arch"/> being 10·major + minor.
/// </summary>
public readonly record struct KernelTarget(int Arch, NvrtcOutputKind Kind)
{
    public static KernelTarget Cubin(int arch) => new(arch, NvrtcOutputKind.Cubin);

    public static KernelTarget Ptx(int arch) => new(arch, NvrtcOutputKind.Ptx);

    /// <summary>The value of <c>--gpu-architecture</c>: <c>sm_90</c> or <c>compute_90</c>.</summary>
    public string ArchName => Kind == NvrtcOutputKind.Cubin ? $"sm_{Arch}" : $"compute_{Arch}";

    public override string ToString() => ArchName;

    /// <summary>
    /// The target for a device of compute capability major.minor: a CUBIN for exactly that arch when NVRTC
    /// lists it; otherwise PTX for the newest arch NVRTC knows that does not exceed the device's (the driver
    /// JIT-compiles PTX forward to newer GPUs, never backward).
    /// </summary>
    public static KernelTarget ForDevice(int major, int minor, IReadOnlyList<int> supportedArchs)
    {
        var arch = 10 * major + minor;
        if (supportedArchs.Contains(arch))
            return Cubin(arch);
        var older = supportedArchs.Where(a => a <= arch).DefaultIfEmpty(-1).Max();
        if (older < 0)
            throw new CudaException($"NVRTC supports none of sm_{arch} or older (supported: {string.Join(", ", supportedArchs.Select(a => "sm_" + a))})");
        return Ptx(older);
    }

    /// <summary><see cref="ForDevice(int,int,IReadOnlyList{int})"/> with the loaded NVRTC's architecture list.</summary>
    public static KernelTarget ForDevice(int major, int minor) => ForDevice(major, minor, NvrtcCompiler.SupportedArchs);
}
