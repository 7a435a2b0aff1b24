using LocalFeat.Cuda;
using Xunit;

namespace LocalFeat.Tests.Cuda;

public sealed class NativeLibraryTests
{
    [Fact]
    public void Missing_library_lists_every_name_searched()
    {
        string[] names = ["liblocalfeat-missing-a.so.1", "liblocalfeat-missing-b.so", "liblocalfeat-missing-c.so.12"];
        var e = Assert.Throws<NativeLibraryMissingException>(() => NativeLibraries.Load("Fake library", names, out _));
        Assert.Equal(names, e.Searched);
        Assert.StartsWith("Fake library not found", e.Message);
        Assert.All(names, n => Assert.Contains(n, e.Message));
        Assert.IsAssignableFrom<CudaException>(e);
    }

    [Fact]
    public void First_loadable_name_in_order_is_used()
    {
        var handle = NativeLibraries.Load("libc", ["liblocalfeat-missing.so", "libc.so.6", "libm.so.6"], out var file);
        Assert.NotEqual(IntPtr.Zero, handle);
        Assert.Equal("libc.so.6", file);
    }

    [Fact]
    public void Search_orders_are_the_documented_ones()
    {
        Assert.Equal(["libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"], NativeLibraries.NvrtcCandidates);
        Assert.Equal(["libcublas.so.12", "libcublas.so.11"], NativeLibraries.CublasCandidates);
        Assert.Equal(["libcuda.so.1"], NativeLibraries.DriverCandidates);
    }
}
