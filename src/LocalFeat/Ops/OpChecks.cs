using static TorchSharp.torch;

namespace LocalFeat.Ops;

/// <summary>Process-wide switches of the ops' input checks.</summary>
public static class OpChecks
{
    /// <summary>
    /// Which inputs get the checks that read tensor values (NaN/Inf in features and descriptors, D2NetLoss's cells
    /// and positions inside the grid). Such a check ends in <c>.item()</c>, which on a CUDA tensor waits for the
    /// device: the default, <see cref="ValueChecks.CpuOnly"/>, keeps it off the hot path of CUDA calls. Shape, dtype
    /// and device checks always run. Not thread-scoped: set it once at start-up.
    /// </summary>
    public static ValueChecks CheckValues { get; set; } = ValueChecks.CpuOnly;

    /// <summary>Whether the value checks run for an input on <paramref name="t"/>'s device.</summary>
    internal static bool ChecksValuesOf(Tensor t) => CheckValues switch
    {
        ValueChecks.Always => true,
        ValueChecks.Never => false,
        _ => !t.is_cuda,
    };
}
