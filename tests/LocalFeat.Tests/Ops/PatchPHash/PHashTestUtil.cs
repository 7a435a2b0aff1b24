using LocalFeat.Cuda;
using LocalFeat.Ops;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LocalFeat.Tests.Ops.PatchPHash;

internal static class PHashTestUtil
{
    public static readonly Backend[] Backends = [Backend.Reference, Backend.Cpu, Backend.Kernel];

    public static TheoryData<Backend> AllBackends() => new(Backends);

    /// <summary>The emulator with threads in a seeded random order between barriers and collectives.</summary>
    public static HostKernelRuntime Shuffled(ulong seed) => new(new HostEmulationOptions(ShuffledSchedule: true, Seed: seed));

    public static void Equal(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(expected.dtype, actual.dtype);
        var e = expected.dtype == ScalarType.Int64 ? expected.data<long>().ToArray() : expected.to(ScalarType.Int64).data<long>().ToArray();
        var a = actual.dtype == ScalarType.Int64 ? actual.data<long>().ToArray() : actual.to(ScalarType.Int64).data<long>().ToArray();
        for (int i = 0; i < e.Length; i++)
            Assert.True(e[i] == a[i], $"{what}[{i}]: expected {e[i]:x16}, got {a[i]:x16}");
    }

    /// <summary>Random uint8 images [b, 1, h, w].</summary>
    public static Tensor Images(int b, int h, int w, ulong seed)
    {
        using var g = new Generator(seed);
        return torch.randint(0, 256, new long[] { b, 1, h, w }, generator: g).to(ScalarType.Byte);
    }

    /// <summary>Keypoints on pixel-centre + 0.5 positions: with patchSize 32 every sample is a pixel centre (clamped or not).</summary>
    public static Tensor HalfIntegerKeypoints(int b, int n, int h, int w, ulong seed, int margin = 0)
    {
        using var g = new Generator(seed);
        var x = torch.randint(-margin, w + margin, new long[] { b, n, 1 }, generator: g).to(ScalarType.Float32).add(0.5);
        var y = torch.randint(-margin, h + margin, new long[] { b, n, 1 }, generator: g).to(ScalarType.Float32).add(0.5);
        return torch.cat([x, y], 2).contiguous();
    }

    /// <summary>The hash of the transposed 8×8 block: bit (r, c) moved to (c, r).</summary>
    public static long Transpose(long hash)
    {
        ulong h = unchecked((ulong)hash), t = 0;
        for (int r = 0; r < 8; r++)
            for (int c = 0; c < 8; c++)
                if ((h >> (63 - (r * 8 + c)) & 1) != 0) t |= 1UL << (63 - (c * 8 + r));
        return unchecked((long)t);
    }
}
