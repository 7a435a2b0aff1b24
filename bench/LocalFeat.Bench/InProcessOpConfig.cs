using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace LocalFeat.Bench;

/// <summary>
/// <see cref="OpBenchmarkConfig"/>'s job (1 launch, 2 warm-ups, 7 iterations) run in process: BenchmarkDotNet's
/// generated child project does not carry TorchSharp's native libraries (libtorch-cpu, the patched
/// libLibTorchSharp.so), so out of process TorchSharp fails to load.
/// </summary>
public sealed class InProcessOpConfig : ManualConfig
{
    public InProcessOpConfig()
    {
        AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(2).WithIterationCount(7).WithToolchain(InProcessEmitToolchain.Instance).WithId("op"));
        AddDiagnoser(MemoryDiagnoser.Default);
        AddColumnProvider(DefaultColumnProviders.Instance);
        AddColumn(StatisticColumn.Median);
    }
}
