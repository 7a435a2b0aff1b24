using BenchmarkDotNet.Attributes;
using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Bench;

/// <summary>SoftByolLoss forward + backward at C = 16,384 correspondences (OPS.md §6), Hard and Soft labels.</summary>
[Config(typeof(OpBenchmarkConfig))]
public class SoftByolLossBenchmarks
{
    private Tensor _q = null!, _z = null!, _u = null!, _u2 = null!, _s1 = null!, _s2 = null!;

    [Params(128, 256)]
    public int D { get; set; }

    [Params(ByolLabel.Hard, ByolLabel.Soft)]
    public ByolLabel Mode { get; set; }

    [ParamsSource(nameof(Backends))]
    public Backend Backend { get; set; }

    public static IEnumerable<Backend> Backends() => OpBenchmarkConfig.Backends();

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(Environment.ProcessorCount);
        const long c = 16_384;
        var device = Backend == Backend.Kernel ? torch.CUDA : torch.CPU;
        using var g = new Generator(4);
        _q = torch.randn([c, D], generator: g).to(device).DetachFromDisposeScope();
        _z = (_q * 0.7 + torch.randn([c, D], generator: g).to(device)).DetachFromDisposeScope();
        _u = torch.randn([c, D], generator: g).to(device).DetachFromDisposeScope();
        _u2 = (_u + 0.8 * torch.randn([c, D], generator: g).to(device)).DetachFromDisposeScope();
        _s1 = torch.rand([c], generator: g).to(device).DetachFromDisposeScope();
        _s2 = torch.rand([c], generator: g).to(device).DetachFromDisposeScope();
        _q.requires_grad_();
        _s1.requires_grad_();
        _s2.requires_grad_();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _q, _z, _u, _u2, _s1, _s2 }) t.Dispose();
    }

    [Benchmark(Description = "forward + backward")]
    public void ForwardBackward()
    {
        using var scope = torch.NewDisposeScope();
        SoftByolLoss.Apply(_q, _z, _u, _u2, _s1, _s2, 1.0, 0.5, Mode, Backend).backward();
        foreach (var t in new[] { _q, _s1, _s2 })
        {
            t.grad?.Dispose();
            t.grad = null;
        }
        if (Backend == Backend.Kernel) torch.cuda.synchronize();
    }
}
