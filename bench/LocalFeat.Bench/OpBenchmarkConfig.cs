using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using LocalFeat.Cuda.Driver;
using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Bench;

/// <summary>
/// Few, long iterations: one op call takes milliseconds to seconds here. Memory diagnoser on; the managed
/// numbers do not include libtorch's native allocations. A default job: a command-line job (--job short) replaces
/// it. In process, as Program.cs explains.
/// </summary>
public sealed class OpBenchmarkConfig : ManualConfig
{
    public OpBenchmarkConfig()
    {
        AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(2).WithIterationCount(7).WithToolchain(InProcessEmitToolchain.Instance).WithId("op").AsDefault());
        AddDiagnoser(MemoryDiagnoser.Default);
        AddColumnProvider(DefaultColumnProviders.Instance);
        AddColumn(StatisticColumn.Median);
    }

    /// <summary>
    /// Reference and Cpu always; the Kernel backend only where TorchSharp has CUDA (a TorchBackend=cuda build on
    /// a machine with a device): timing the host emulation (threads as fibers) measures the emulator, not the kernel.
    /// </summary>
    public static IEnumerable<Backend> Backends()
    {
        yield return Backend.Reference;
        yield return Backend.Cpu;
        if (HasCuda) yield return Backend.Kernel;
    }

    public static bool HasCuda => CudaDriver.IsDeviceAvailable(out _) && torch.cuda.is_available();

    /// <summary>Where a backend's inputs live: the Kernel backend is benchmarked on CUDA tensors only.</summary>
    public static Device DeviceOf(Backend backend) => backend == Backend.Kernel ? torch.CUDA : torch.CPU;

    /// <summary>Waits for the device, so that a CUDA call's time is its run time, not its launch time.</summary>
    public static void Synchronize(Backend backend)
    {
        if (backend == Backend.Kernel) torch.cuda.synchronize();
    }
}
