using LocalFeat.Cuda;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LocalFeat.Tests.Ops.SoftByol;

/// <summary>Comparisons and runtimes of the SoftByolLoss / EmaUpdate tests (OPS.md: |a−b| ≤ 1e-5 + 1e-4·|ref|).</summary>
internal static class SoftByolAssert
{
    public static void Close(Tensor expected, Tensor actual, string what, double atol = 1e-5, double rtol = 1e-4)
    {
        Assert.Equal(expected.shape, actual.shape);
        if (expected.numel() == 0) return;
        var e = expected.to(ScalarType.Float64).contiguous().data<double>().ToArray();
        var a = actual.to(ScalarType.Float64).contiguous().data<double>().ToArray();
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= atol + rtol * Math.Abs(e[i]), $"{what}[{i}]: expected {e[i]:R}, got {a[i]:R}");
    }

    /// <summary>Floats compared by their bits (−0 ≠ +0).</summary>
    public static void BitEqual(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        if (expected.numel() == 0) return;  // TorchSharp's accessor cannot copy out an empty tensor
        var e = expected.contiguous().data<float>().ToArray();
        var a = actual.contiguous().data<float>().ToArray();
        for (int i = 0; i < e.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(e[i]) == BitConverter.SingleToInt32Bits(a[i]), $"{what}[{i}]: {e[i]:R} vs {a[i]:R}");
    }

    /// <summary>The emulator with threads in a seeded random order between barriers.</summary>
    public static HostKernelRuntime Shuffled(ulong seed) => new(new HostEmulationOptions(ShuffledSchedule: true, Seed: seed));
}
