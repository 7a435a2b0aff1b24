using LocalFeat.Cuda.Driver;
using Xunit;

namespace LocalFeat.Tests.Ops;

/// <summary>
/// A fact that needs CUDA tensors: a CUDA device and a TorchSharp with CUDA (a TorchBackend=cuda build). The
/// default build's libtorch is CPU-only, so on a GPU machine these skip with that reason while the driver and
/// NVRTC tests (<see cref="GpuFactAttribute"/>) run.
/// </summary>
public sealed class TorchCudaFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> SkipReason = new(() =>
    {
        if (!CudaDriver.IsDeviceAvailable(out var reason)) return reason;
        return TorchSharp.torch.cuda.is_available() ? null : "TorchSharp has no CUDA here (TorchBackend=cpu build: libtorch-cpu)";
    });

    public TorchCudaFactAttribute()
    {
        if (SkipReason.Value is { } reason)
            Skip = reason;
    }
}
