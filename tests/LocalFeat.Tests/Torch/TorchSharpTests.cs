using System.Text;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;

namespace LocalFeat.Tests.Torch;

/// <summary>What LocalFeat relies on from TorchSharp itself: its native library loads here, dispose scopes free memory.</summary>
[Collection(SerialCollection.Name)]
public class TorchSharpTests
{
    private static string[] MappedLibraries() =>
        File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length >= 6 && f[5].StartsWith('/')).Select(f => f[5]).Distinct().ToArray();

    [Fact]
    public void NativeLibrary_Loads_AndIsThePatchedCopy_WhereTheSystemLibstdcxxIsTooOld()
    {
        using (var scope = torch.NewDisposeScope())
            Assert.Equal(6.0, torch.arange(4).sum().item<long>());
        var libs = MappedLibraries();
        var torchSharp = Assert.Single(libs, p => Path.GetFileName(p) == "libLibTorchSharp.so");
        var libstdcxx = Assert.Single(libs, p => Path.GetFileName(p).StartsWith("libstdc++.so", StringComparison.Ordinal));
        bool modern = File.ReadAllBytes(libstdcxx).AsSpan().IndexOf("GLIBCXX_3.4.32"u8) >= 0;
        if (modern) return;  // TorchSharp's own copy loads as it is
        // Debian 12: only the patched copy loads, and it pulls in the shim defining std::ios_base_library_init.
        string dir = Path.GetDirectoryName(torchSharp)!;
        string shim = Path.Combine(dir, "liblocalfeat_iosinit.so");
        Assert.True(File.Exists(shim), $"{libstdcxx} lacks GLIBCXX_3.4.32 but {shim} is missing");
        Assert.Contains(shim, libs);
        Assert.True(File.ReadAllBytes(torchSharp).AsSpan().IndexOf(Encoding.ASCII.GetBytes("liblocalfeat_iosinit.so")) >= 0,
            $"{torchSharp} is not the patched copy (no DT_NEEDED on the shim)");
    }

    // Resident set size from /proc: native (libtorch) memory included, unlike GC counters.
    private static long ResidentBytes() => long.Parse(File.ReadAllText("/proc/self/statm").Split(' ')[1]) * Environment.SystemPageSize;

    private static void SmallOps(int iterations)
    {
        for (int i = 0; i < iterations; i++)
        {
            using var scope = torch.NewDisposeScope();
            // 1024 floats = 4 KiB per tensor: 50,000 leaked iterations would hold > 800 MB.
            var a = torch.ones(1024);
            var b = (a * 2 + 1).relu();
            Assert.Equal(4, scope.DisposablesCount);  // a, a*2, +1, relu
        }
    }

    [Fact]
    public void FiftyThousandSmallOps_InDisposeScopes_KeepResidentMemoryBounded()
    {
        SmallOps(2_000);  // warm-up: allocator pools, JIT
        long before = ResidentBytes();
        SmallOps(50_000);
        long growth = ResidentBytes() - before;
        Assert.True(growth < 64L << 20, $"resident memory grew by {growth >> 20} MiB over 50,000 iterations");
    }

    [Fact]
    public void DisposeScope_FreesTemporaries_AndKeepsMovedResults()
    {
        Tensor kept, temp;
        using (var outer = torch.NewDisposeScope())
        {
            using (torch.NewDisposeScope())
            {
                temp = torch.ones(3);
                kept = (temp * 5).MoveToOuterDisposeScope();
            }
            Assert.True(temp.IsInvalid);
            Assert.False(kept.IsInvalid);
            Assert.Equal(new float[] { 5, 5, 5 }, kept.data<float>().ToArray());
            Assert.Equal(1, outer.DisposablesCount);
        }
        Assert.True(kept.IsInvalid);
    }
}
