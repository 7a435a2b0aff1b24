using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;
using F = TorchSharp.torch.nn.functional;

namespace LocalFeat.Tests.Ops;

/// <summary>The mining backends never hold the N×M matrix: peak resident memory, measured alone.</summary>
[Collection(SerialCollection.Name)]
public class MiningMemoryTests
{
    [Fact]
    public void Cpu_AtTwentyThousandSquared_AllocatesFarLessThanTheDistanceMatrix()
    {
        const int n = 20_000, d = 128;
        using var scope = torch.NewDisposeScope();
        using var g = new Generator(8);
        var a = torch.randn([n, d], generator: g);
        var c = torch.randn([n, d], generator: g);
        var ap = torch.randint(0, 150, [n, 2], generator: g).@float();
        var cp = torch.randint(0, 150, [n, 2], generator: g).@float();
        Tensor? index = null;
        long managedBefore = GC.GetTotalAllocatedBytes(precise: true);
        long peak = OpAssert.PeakResidentBytesSinceReset(() => index = HardestNegatives.Apply(a, c, ap, cp, 4, SafeWindow.Square, Backend.Cpu).index);
        long managed = GC.GetTotalAllocatedBytes(precise: true) - managedBefore;
        const long matrix = (long)n * n * sizeof(float);  // 1.6 GB
        Assert.True(peak < matrix / 8, $"peak resident growth {peak >> 20} MiB (the N×M matrix is {matrix >> 20} MiB)");
        Assert.True(managed < matrix / 16, $"managed allocation {managed >> 20} MiB");
        Assert.All(index!.data<long>().ToArray(), v => Assert.InRange(v, 0, n - 1));
    }

    [Fact]
    public void Cpu_KeepsMemoryToTheTopKNotTheSimilarityMatrix()
    {
        const int n = 16_000, d = 64;
        using var disposeScope = torch.NewDisposeScope();
        using var gen = new Generator(6);
        var a = F.normalize(torch.randn([n, d], generator: gen));
        var p = F.normalize(torch.randn([n, d], generator: gen));
        var g = torch.arange(n).div(2).floor().@long();
        long peak = OpAssert.PeakResidentBytesSinceReset(() => InBatchHardestNegatives.Apply(a, p, g, 20, NegativeScope.OtherGroups, Backend.Cpu));
        const long matrix = (long)n * n * sizeof(float);  // 1 GB
        Assert.True(peak < matrix / 8, $"peak resident growth {peak >> 20} MiB (the N×N matrix is {matrix >> 20} MiB)");
    }
}
