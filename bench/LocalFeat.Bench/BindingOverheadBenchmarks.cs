using BenchmarkDotNet.Attributes;
using LocalFeat.Torch;

namespace LocalFeat.Bench;

/// <summary>
/// Per-call cost of one small libtorch op through the binding (C# → C ABI → c10 dispatcher → result handle).
/// Compare with bench/python_overhead.py, the same op in Python with python3-torch.
/// </summary>
[MemoryDiagnoser, MedianColumn]
public class BindingOverheadBenchmarks
{
    private Tensor _a = null!, _b = null!;

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(1);
        _a = torch.rand(4);
        _b = torch.rand(4);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _a.Dispose();
        _b.Dispose();
    }

    /// <summary>a + b on 4-element float tensors, result disposed.</summary>
    [Benchmark]
    public void AddSmall()
    {
        using var c = _a + _b;
    }
}
