using BenchmarkDotNet.Attributes;
using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Bench;

/// <summary>
/// Per-call cost of small round trips through TorchSharp (C# → LibTorchSharp → c10 dispatcher → result handle),
/// one thread. AddSmall is bench/python_overhead.py's op, so the two compare directly; the others show what a
/// dispose scope and an op entry point (checks, autograd node) add on top.
/// </summary>
[MemoryDiagnoser, MedianColumn]
public class CallOverheadBenchmarks
{
    private Tensor _a = null!, _b = null!, _features = null!, _leaf = null!;

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(1);
        _a = torch.rand(4).DetachFromDisposeScope();
        _b = torch.rand(4).DetachFromDisposeScope();
        _features = torch.rand([1, 1, 4, 4]).DetachFromDisposeScope();
        _leaf = torch.rand([1, 1, 4, 4]).requires_grad_().DetachFromDisposeScope();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _a, _b, _features, _leaf }) t.Dispose();
    }

    /// <summary>a + b on 4-element float tensors, result disposed.</summary>
    [Benchmark(Baseline = true)]
    public void AddSmall()
    {
        using var c = _a + _b;
    }

    /// <summary>The same inside a dispose scope, as the ops and a training loop use it.</summary>
    [Benchmark]
    public void AddSmallInDisposeScope()
    {
        using var scope = torch.NewDisposeScope();
        _ = _a + _b;
    }

    /// <summary>D2SoftDetect's Cpu backend on a 1×1×4×4 map: the entry point's checks and the data pointers, no autograd node.</summary>
    [Benchmark]
    public void OpSmall()
    {
        using var scope = torch.NewDisposeScope();
        D2SoftDetect.Apply(_features, backend: Backend.Cpu);
    }

    /// <summary>The same with a leaf that requires grad: a TorchSharp custom autograd node per call, forward and backward.</summary>
    [Benchmark]
    public void OpSmallForwardBackward()
    {
        using var scope = torch.NewDisposeScope();
        var x = _leaf.detach().requires_grad_();
        D2SoftDetect.Apply(x, backend: Backend.Cpu).sum().backward();
    }
}
