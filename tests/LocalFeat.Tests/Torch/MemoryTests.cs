using LocalFeat.Torch;
using Xunit;

namespace LocalFeat.Tests.Torch;

[Collection(SerialCollection.Name)]
public class MemoryTests
{
    // Resident set size from /proc: native (libtorch) memory included, unlike GC counters.
    private static long ResidentBytes()
    {
        string statm = File.ReadAllText("/proc/self/statm");
        return long.Parse(statm.Split(' ')[1]) * Environment.SystemPageSize;
    }

    private static void SmallOps(int iterations)
    {
        for (int i = 0; i < iterations; i++)
        {
            using var scope = torch.NewDisposeScope();
            // 1024 floats = 4 KiB per tensor: 100,000 leaked iterations would hold > 1 GB.
            var a = torch.ones(1024);
            var b = (a * 2 + 1).relu();
            Assert.Equal(4, scope.Count);  // a, a*2, +1, relu
        }
    }

    [Fact]
    public void HundredThousandSmallOps_InDisposeScopes_KeepResidentMemoryBounded()
    {
        SmallOps(5_000);  // warm-up: allocator pools, JIT, op handle cache
        long before = ResidentBytes();
        SmallOps(100_000);
        long growth = ResidentBytes() - before;
        Assert.True(growth < 64L << 20, $"resident memory grew by {growth >> 20} MiB over 100,000 iterations");
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
            Assert.True(temp.IsDisposed);
            Assert.False(kept.IsDisposed);
            Assert.Equal(new float[] { 5, 5, 5 }, kept.ToArray<float>());
            Assert.Equal(1, outer.Count);
        }
        Assert.True(kept.IsDisposed);
    }
}
