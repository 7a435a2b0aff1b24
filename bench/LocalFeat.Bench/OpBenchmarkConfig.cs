using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using LocalFeat.Cuda.Driver;
using LocalFeat.Ops;

namespace LocalFeat.Bench;

/// <summary>
/// Few, long iterations: one op call takes milliseconds to seconds here. Memory diagnoser on; the managed
/// numbers do not include libtorch's native allocations.
/// </summary>
public sealed class OpBenchmarkConfig : ManualConfig
{
    public OpBenchmarkConfig()
    {
        AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(2).WithIterationCount(7).WithId("op"));
        AddDiagnoser(MemoryDiagnoser.Default);
        AddColumnProvider(DefaultColumnProviders.Instance);
        AddColumn(StatisticColumn.Median);
    }

    /// <summary>
    /// Reference and Cpu always; the Kernel backend only on a CUDA device: timing the host emulation
    /// (threads as fibers) measures the emulator, not the kernel.
    /// </summary>
    public static IEnumerable<Backend> Backends()
    {
        yield return Backend.Reference;
        yield return Backend.Cpu;
        if (CudaDriver.IsDeviceAvailable(out _)) yield return Backend.Kernel;
    }
}
