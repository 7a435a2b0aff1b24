using BenchmarkDotNet.Attributes;
using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Bench;

/// <summary>PatchPHash at B = 2, N = 2048 on 640×480 uint8 images, and Hamming of 2048×2048 hash pairs (OPS.md §4).</summary>
[Config(typeof(OpBenchmarkConfig))]
public class PHashBenchmarks
{
    private Tensor _images = null!, _keypoints = null!, _a = null!, _b = null!;

    [ParamsSource(nameof(Backends))]
    public Backend Backend { get; set; }

    public static IEnumerable<Backend> Backends() => OpBenchmarkConfig.Backends();

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(Environment.ProcessorCount);
        using var g = new Generator(2);
        _images = torch.randint(0, 256, new long[] { 2, 1, 480, 640 }, generator: g).to(ScalarType.Byte).DetachFromDisposeScope();
        _keypoints = torch.cat([torch.rand([2, 2048, 1], generator: g).mul(640), torch.rand([2, 2048, 1], generator: g).mul(480)], 2).contiguous().DetachFromDisposeScope();
        _a = torch.randint(long.MinValue, long.MaxValue, new long[] { 2048 }, ScalarType.Int64, generator: g).DetachFromDisposeScope();
        _b = torch.randint(long.MinValue, long.MaxValue, new long[] { 2048 }, ScalarType.Int64, generator: g).DetachFromDisposeScope();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _images, _keypoints, _a, _b }) t.Dispose();
    }

    [Benchmark(Description = "PatchPHash B2 N2048 640x480")]
    public void PatchPHash()
    {
        using var scope = torch.NewDisposeScope();
        LocalFeat.Ops.PatchPHash.Apply(_images, _keypoints, 32, Backend);
    }

    [Benchmark(Description = "Hamming.Cross 2048x2048")]
    public void HammingCross()
    {
        using var scope = torch.NewDisposeScope();
        Hamming.Cross(_a, _b, Backend);
    }
}
