using LocalFeat.Cuda.Driver;
using Xunit;

namespace LocalFeat.Tests;

/// <summary>
/// A fact that needs a CUDA device: skipped, with the reason, when libcuda.so.1 cannot be loaded or no device
/// is present. These are the only tests allowed to skip.
/// </summary>
public sealed class GpuFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> SkipReason = new(() =>
        CudaDriver.IsDeviceAvailable(out var reason) ? null : reason);

    public GpuFactAttribute()
    {
        if (SkipReason.Value is { } reason)
            Skip = reason;
    }
}
