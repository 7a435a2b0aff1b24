using BenchmarkDotNet.Attributes;
using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Bench;

/// <summary>
/// EmaUpdate (BYOL target update) over whole parameter lists: the tiny FeatureNet's conv shapes (1→8→…→128,
/// 10 tensors, 98 k parameters), 200 bias-sized tensors, and VGG16's conv1_1..conv5_3 (26 tensors, 14.7 M).
/// Reference = the per-tensor libtorch loop.
/// </summary>
[Config(typeof(OpBenchmarkConfig))]
public class EmaUpdateBenchmarks
{
    private Tensor[] _target = [], _online = [];

    [Params("TinyFeatureNet", "Many200x512", "Vgg16Conv")]
    public string Model { get; set; } = "";

    [ParamsSource(nameof(Backends))]
    public Backend Backend { get; set; }

    public static IEnumerable<Backend> Backends() => OpBenchmarkConfig.Backends();

    private static IEnumerable<long[]> Convs(params (long cin, long cout)[] layers)
    {
        foreach (var (cin, cout) in layers)
        {
            yield return [cout, cin, 3, 3];
            yield return [cout];
        }
    }

    public static long[][] Shapes(string model) => model switch
    {
        "TinyFeatureNet" => Convs((1, 8), (8, 16), (16, 32), (32, 64), (64, 128)).ToArray(),
        "Many200x512" => Enumerable.Range(0, 200).Select(_ => new long[] { 512 }).ToArray(),
        "Vgg16Conv" => Convs((3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256),
            (256, 512), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)).ToArray(),
        _ => throw new ArgumentException(model),
    };

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(Environment.ProcessorCount);
        var device = Backend == Backend.Kernel ? torch.CUDA : torch.CPU;
        using var g = new Generator(6);
        var shapes = Shapes(Model);
        _target = shapes.Select(s => torch.randn(s, generator: g).to(device).DetachFromDisposeScope()).ToArray();
        _online = shapes.Select(s => torch.randn(s, generator: g).to(device).DetachFromDisposeScope()).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in _target.Concat(_online)) t.Dispose();
    }

    [Benchmark(Description = "EmaUpdate")]
    public void Update()
    {
        EmaUpdate.Apply(_target, _online, 0.996, Backend);
        if (Backend == Backend.Kernel) torch.cuda.synchronize();
    }
}
