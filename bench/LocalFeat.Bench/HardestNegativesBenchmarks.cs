using BenchmarkDotNet.Attributes;
using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LocalFeat.Bench;

/// <summary>
/// HardestNegatives at D2-Net mining shapes, with the plain GEMM of the same shape (torch.mm: OpenBLAS on the
/// CPU, cuBLAS on CUDA) as the yardstick: the fused op cannot beat the dot products it needs.
/// </summary>
[Config(typeof(OpBenchmarkConfig))]
public class HardestNegativesBenchmarks
{
    private Tensor _a = null!, _c = null!, _ap = null!, _cp = null!, _w = null!;

    [ParamsSource(nameof(Shapes))]
    public string Shape { get; set; } = "";

    [ParamsSource(nameof(Backends))]
    public Backend Backend { get; set; }

    public static IEnumerable<string> Shapes() => ["N4096_M4096_D128", "N4096_M4096_D256", "N1024_M16384_D128", "N1024_M16384_D256"];
    public static IEnumerable<Backend> Backends() => OpBenchmarkConfig.Backends();

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(Environment.ProcessorCount);
        var p = Shape.Split('_').Select(s => long.Parse(s[1..])).ToArray();
        using var g = new Generator(2);
        var device = OpBenchmarkConfig.DeviceOf(Backend);
        _a = F.normalize(torch.randn([p[0], p[2]], generator: g)).to(device).DetachFromDisposeScope();
        _c = F.normalize(torch.randn([p[1], p[2]], generator: g)).to(device).DetachFromDisposeScope();
        long side = (long)Math.Sqrt(p[1]);
        _ap = torch.randint(0, side, [p[0], 2], generator: g).@float().to(device).DetachFromDisposeScope();
        _cp = torch.randint(0, side, [p[1], 2], generator: g).@float().to(device).DetachFromDisposeScope();
        _w = torch.rand([p[0]], generator: g).to(device).DetachFromDisposeScope();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _a, _c, _ap, _cp, _w }) t.Dispose();
    }

    [Benchmark(Baseline = true, Description = "GEMM a·cᵀ (torch.mm)")]
    public void Gemm()
    {
        using var scope = torch.NewDisposeScope();
        _a.mm(_c.t());
        OpBenchmarkConfig.Synchronize(Backend);
    }

    [Benchmark]
    public void Forward()
    {
        using var scope = torch.NewDisposeScope();
        HardestNegatives.Apply(_a, _c, _ap, _cp, 4, SafeWindow.Square, Backend);
        OpBenchmarkConfig.Synchronize(Backend);
    }

    [Benchmark]
    public void ForwardBackward()
    {
        using var scope = torch.NewDisposeScope();
        var (a, c) = (_a.detach().requires_grad_(), _c.detach().requires_grad_());
        var (index, distance) = HardestNegatives.Apply(a, c, _ap, _cp, 4, SafeWindow.Square, Backend);
        torch.where(index.ge(0), distance, 0.0).mul(_w).sum().backward();
        OpBenchmarkConfig.Synchronize(Backend);
    }
}
