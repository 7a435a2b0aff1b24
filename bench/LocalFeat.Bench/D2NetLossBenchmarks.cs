using BenchmarkDotNet.Attributes;
using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Bench;

/// <summary>
/// The D2-Net loss of one pair at its training size (512-channel VGG conv4_3 maps of a 256×256 crop, 32×32
/// cells), forward+backward: two HardestNegatives calls plus the composite positive, weighting and sampling.
/// </summary>
[Config(typeof(OpBenchmarkConfig))]
public class D2NetLossBenchmarks
{
    private Tensor _f1 = null!, _f2 = null!, _s1 = null!, _s2 = null!, _cells = null!, _pos = null!;

    [Params(1024)]
    public int Correspondences { get; set; }

    [ParamsSource(nameof(Backends))]
    public Backend Backend { get; set; }

    public static IEnumerable<Backend> Backends() => OpBenchmarkConfig.Backends();

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(Environment.ProcessorCount);
        using var g = new Generator(4);
        var device = OpBenchmarkConfig.DeviceOf(Backend);
        Tensor On(Tensor t) => t.to(device).DetachFromDisposeScope();
        _f1 = On(torch.randn([512, 32, 32], generator: g).relu());
        _f2 = On(torch.randn([512, 32, 32], generator: g).relu());
        _s1 = On(torch.rand([32, 32], generator: g));
        _s2 = On(torch.rand([32, 32], generator: g));
        _cells = On(torch.randint(0, 32, [Correspondences, 2], generator: g));
        _pos = On(torch.rand([Correspondences, 2], generator: g).mul(31));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _f1, _f2, _s1, _s2, _cells, _pos }) t.Dispose();
    }

    [Benchmark]
    public void ForwardBackward()
    {
        using var scope = torch.NewDisposeScope();
        var (f1, f2) = (_f1.detach().requires_grad_(), _f2.detach().requires_grad_());
        var (s1, s2) = (_s1.detach().requires_grad_(), _s2.detach().requires_grad_());
        D2NetLoss.Apply(f1, s1, f2, s2, _cells, _pos, backend: Backend).backward();
        OpBenchmarkConfig.Synchronize(Backend);
    }
}
