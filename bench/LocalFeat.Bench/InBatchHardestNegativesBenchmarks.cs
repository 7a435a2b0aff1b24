using BenchmarkDotNet.Attributes;
using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LocalFeat.Bench;

/// <summary>HNDesc in-batch mining, N = 8192 pairs of 128-D descriptors, with the GEMM a·pᵀ (torch.mm) as the yardstick.</summary>
[Config(typeof(OpBenchmarkConfig))]
public class InBatchHardestNegativesBenchmarks
{
    private Tensor _a = null!, _p = null!, _g = null!, _w = null!;

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
        var device = OpBenchmarkConfig.DeviceOf(Backend);
        _a = F.normalize(torch.randn([8192, 128], generator: g)).to(device).DetachFromDisposeScope();
        _p = F.normalize(torch.randn([8192, 128], generator: g)).to(device).DetachFromDisposeScope();
        _g = torch.arange(8192).div(2).floor().@long().to(device).DetachFromDisposeScope();
        _w = torch.rand([8192, K], generator: g).to(device).DetachFromDisposeScope();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _a, _p, _g, _w }) t.Dispose();
    }

    [Benchmark(Baseline = true, Description = "GEMM a·pᵀ (torch.mm)")]
    public void Gemm()
    {
        using var scope = torch.NewDisposeScope();
        _a.mm(_p.t());
        OpBenchmarkConfig.Synchronize(Backend);
    }

    [Benchmark]
    public void Forward()
    {
        using var scope = torch.NewDisposeScope();
        InBatchHardestNegatives.Apply(_a, _p, _g, K, NegativeScope.OtherGroups, Backend);
        OpBenchmarkConfig.Synchronize(Backend);
    }

    [Benchmark]
    public void ForwardBackward()
    {
        using var scope = torch.NewDisposeScope();
        var (a, p) = (_a.detach().requires_grad_(), _p.detach().requires_grad_());
        var (index, similarity) = InBatchHardestNegatives.Apply(a, p, _g, K, NegativeScope.OtherGroups, Backend);
        torch.where(index.ge(0), similarity, 0.0).mul(_w).sum().backward();
        OpBenchmarkConfig.Synchronize(Backend);
    }
}
