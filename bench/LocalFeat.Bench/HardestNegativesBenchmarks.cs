using BenchmarkDotNet.Attributes;
using LocalFeat.Ops;
using LocalFeat.Torch;
using F = LocalFeat.Torch.nn.functional;

namespace LocalFeat.Bench;

/// <summary>
/// HardestNegatives forward at D2-Net mining shapes, with the plain GEMM of the same shape (libtorch mm,
/// OpenBLAS) as the yardstick: the fused op cannot beat the dot products it needs.
/// </summary>
[Config(typeof(OpBenchmarkConfig))]
public class HardestNegativesBenchmarks
{
    private Tensor _a = null!, _c = null!, _ap = null!, _cp = null!;

    [ParamsSource(nameof(Shapes))]
    public string Shape { get; set; } = "";

    public static IEnumerable<string> Shapes() => ["N4096_M4096_D128", "N4096_M4096_D256", "N1024_M16384_D128", "N1024_M16384_D256"];

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(Environment.ProcessorCount);
        var p = Shape.Split('_').Select(s => long.Parse(s[1..])).ToArray();
        using var g = new Generator(2);
        _a = F.normalize(torch.randn([p[0], p[2]], g)).DetachFromDisposeScope();
        _c = F.normalize(torch.randn([p[1], p[2]], g)).DetachFromDisposeScope();
        long side = (long)Math.Sqrt(p[1]);
        _ap = torch.randint(0, side, [p[0], 2], g).@float().DetachFromDisposeScope();
        _cp = torch.randint(0, side, [p[1], 2], g).@float().DetachFromDisposeScope();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _a, _c, _ap, _cp }) t.Dispose();
    }

    [Benchmark(Baseline = true, Description = "GEMM a·cᵀ (libtorch mm)")]
    public void Gemm()
    {
        using var scope = torch.NewDisposeScope();
        _a.mm(_c.t());
    }

    [Benchmark]
    public void Reference() => Mine(Backend.Reference);

    [Benchmark]
    public void Cpu() => Mine(Backend.Cpu);

    private void Mine(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        HardestNegatives.Apply(_a, _c, _ap, _cp, 4, SafeWindow.Square, backend);
    }
}
