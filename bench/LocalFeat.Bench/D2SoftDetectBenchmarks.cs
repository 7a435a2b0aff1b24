using BenchmarkDotNet.Attributes;
using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Bench;

/// <summary>D2SoftDetect forward and forward+backward at D2-Net's feature-map sizes.</summary>
/// <remarks>15 iterations: the Cpu calls take tens of milliseconds, where this VM's stalls skew a mean of 7.</remarks>
[Config(typeof(OpBenchmarkConfig)), IterationCount(15)]
public class D2SoftDetectBenchmarks
{
    private Tensor _features = null!, _grad = null!;

    [ParamsSource(nameof(Shapes))]
    public string Shape { get; set; } = "";

    [ParamsSource(nameof(Backends))]
    public Backend Backend { get; set; }

    public static IEnumerable<string> Shapes() => ["2x512x64x64", "2x128x128x128"];
    public static IEnumerable<Backend> Backends() => OpBenchmarkConfig.Backends();

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(Environment.ProcessorCount);
        long[] s = Shape.Split('x').Select(long.Parse).ToArray();
        using var g = new Generator(1);
        var device = OpBenchmarkConfig.DeviceOf(Backend);
        _features = torch.randn(s, generator: g).to(device).DetachFromDisposeScope();
        _grad = torch.rand([s[0], s[2], s[3]], generator: g).to(device).DetachFromDisposeScope();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _features.Dispose();
        _grad.Dispose();
    }

    [Benchmark]
    public void Forward()
    {
        using var scope = torch.NewDisposeScope();
        D2SoftDetect.Apply(_features, backend: Backend);
        OpBenchmarkConfig.Synchronize(Backend);
    }

    [Benchmark]
    public void ForwardBackward()
    {
        using var scope = torch.NewDisposeScope();
        var x = _features.detach().requires_grad_();
        (D2SoftDetect.Apply(x, backend: Backend) * _grad).sum().backward();
        OpBenchmarkConfig.Synchronize(Backend);
    }
}
