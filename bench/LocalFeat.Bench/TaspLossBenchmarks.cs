using BenchmarkDotNet.Attributes;
using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Bench;

/// <summary>The DIW triplet loss and the task-aligned keypoint loss at N = 8192, forward + backward (OPS.md §5).</summary>
[Config(typeof(OpBenchmarkConfig))]
public class TaspLossBenchmarks
{
    private Tensor _dPos = null!, _dNeg = null!, _s = null!, _p = null!, _q = null!;
    private DiwHistogram _histogram = null!;

    [ParamsSource(nameof(Backends))]
    public Backend Backend { get; set; }

    public static IEnumerable<Backend> Backends() => OpBenchmarkConfig.Backends();

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(Environment.ProcessorCount);
        using var g = new Generator(3);
        const int n = 8192;
        _dPos = torch.rand([n], generator: g).mul(1.5f).DetachFromDisposeScope();
        _dNeg = torch.rand([n], generator: g).mul(2f).DetachFromDisposeScope();
        _s = torch.rand([n], generator: g).mul(4f).DetachFromDisposeScope();
        _p = torch.rand([n], generator: g).mul(0.98f).add(0.01f).DetachFromDisposeScope();
        _q = torch.rand([n], generator: g).mul(0.98f).add(0.01f).DetachFromDisposeScope();
        _histogram = new DiwHistogram(margin: 0.5);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _dPos, _dNeg, _s, _p, _q }) t.Dispose();
        _histogram.Dispose();
    }

    [Benchmark(Description = "TaspTripletLoss N8192 fwd+bwd")]
    public void Triplet()
    {
        using var scope = torch.NewDisposeScope();
        var dPos = _dPos.detach().requires_grad_();
        var dNeg = _dNeg.detach().requires_grad_();
        TaspTripletLoss.Apply(dPos, dNeg, _s, _histogram, Backend).backward();
    }

    [Benchmark(Description = "TaskAlignedKeypointLoss N8192 K8192 fwd+bwd")]
    public void Keypoint()
    {
        using var scope = torch.NewDisposeScope();
        var p = _p.detach().requires_grad_();
        var q = _q.detach().requires_grad_();
        TaskAlignedKeypointLoss.Apply(p, _dPos, _dNeg, q, 0.5, 0.5, Backend).backward();
    }
}
