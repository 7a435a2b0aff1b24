using System.Collections.Concurrent;
using LocalFeat.Cuda;
using LocalFeat.Cuda.Driver;
using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Ops;

/// <summary>
/// Where the Kernel backend runs a tensor's kernels: the CUDA device holding it, or the host emulation
/// for CPU tensors. Tests can swap the host runtime (e.g. for the shuffled schedule) for a scope.
/// </summary>
internal static class KernelRuntimes
{
    private static readonly Lazy<IKernelRuntime> DefaultHost = new(() => new HostKernelRuntime());
    private static readonly ConcurrentDictionary<int, IKernelRuntime> Devices = new();
    private static readonly AsyncLocal<IKernelRuntime?> HostOverride = new();

    public static IKernelRuntime For(Tensor t) =>
        t.is_cuda ? Devices.GetOrAdd(Math.Max(t.device.index, 0), i => new CudaKernelRuntime(i)) : HostOverride.Value ?? DefaultHost.Value;

    /// <summary>Runs host-emulated kernels of this async flow on <paramref name="runtime"/> until disposed.</summary>
    public static IDisposable UseHost(IKernelRuntime runtime)
    {
        var previous = HostOverride.Value;
        HostOverride.Value = runtime;
        return new Restore(() => HostOverride.Value = previous);
    }

    private sealed class Restore(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}
