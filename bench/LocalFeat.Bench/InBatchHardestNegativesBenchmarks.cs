using BenchmarkDotNet.Attributes;
using LocalFeat.Ops;
using LocalFeat.Torch;
using F = LocalFeat.Torch.nn.functional;

namespace LocalFeat.Bench;

/// <summary>HNDesc in-batch mining, N = 8192 pairs of 128-D descriptors.</summary>
[Config(typeof(OpBenchmarkConfig))]
public class InBatchHardestNegativesBenchmarks
{
    private Tensor _a = null!, _p = null!, _g = null!;

    [Params(1, 20)]
    public int K { get; set; }

    [ParamsSource(nameof(Backends))]
    public Backend Backend { get; set; }

    public static IEnumerable<Backend> Backends() => OpBenchmarkConfig.Backends();

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(Environment.ProcessorCount);
        using var g = new Generator(3);
        var device = Backend == Backend.Kernel ? Device.CUDA(0) : Device.CPU;
        _a = F.normalize(torch.randn([8192, 128], g)).to(device).DetachFromDisposeScope();
        _p = F.normalize(torch.randn([8192, 128], g)).to(device).DetachFromDisposeScope();
        _g = torch.arange(8192).div(2).floor().@long().to(device).DetachFromDisposeScope();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _a, _p, _g }) t.Dispose();
    }

    [Benchmark]
    public void Mine()
    {
        using var scope = torch.NewDisposeScope();
        InBatchHardestNegatives.Apply(_a, _p, _g, K, NegativeScope.OtherGroups, Backend);
    }
}
