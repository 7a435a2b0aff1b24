using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;
using F = TorchSharp.torch.nn.functional;

namespace LocalFeat.Tests.Ops;

/// <summary>The Kernel backend of <see cref="InBatchHardestNegatives"/> (kernels/hard_negative.cu, host emulation here) against Reference.</summary>
public class InBatchHardestNegativesKernelTests
{
    internal static (Tensor a, Tensor p, Tensor g) Inputs(int n, int d, int groupSize, ulong seed, bool quantized = false)
    {
        using var gen = new Generator(seed);
        var a = F.normalize(torch.randn([n, d], generator: gen));
        var p = F.normalize(torch.randn([n, d], generator: gen));
        if (quantized) (a, p) = (KernelTestUtil.Quantized(a), KernelTestUtil.Quantized(p));
        var g = torch.arange(n).div(groupSize).floor().@long();
        return (a, p, g);
    }

    public static IEnumerable<object[]> Shapes()
    {
        foreach (var scope in Enum.GetValues<NegativeScope>())
            foreach (var (n, d, k, groupSize) in new[] { (1, 3, 1, 1), (3, 4, 5, 1), (37, 19, 5, 2), (64, 32, 20, 4), (65, 33, 33, 3), (130, 8, 64, 5), (200, 12, 1, 50) })
                yield return [scope, n, d, k, groupSize];
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ForwardAndBackward_MatchReference(NegativeScope scope, int n, int d, int k, int groupSize)
    {
        using var disposeScope = torch.NewDisposeScope();
        var (a, p, g) = Inputs(n, d, groupSize, (ulong)(n * 13 + k));
        var (ar, pr) = (a.clone().requires_grad_(), p.clone().requires_grad_());
        var (ak, pk) = (a.clone().requires_grad_(), p.clone().requires_grad_());
        var (ir, sr) = InBatchHardestNegatives.Apply(ar, pr, g, k, scope, Backend.Reference);
        var (ik, sk) = InBatchHardestNegatives.Apply(ak, pk, g, k, scope, Backend.Kernel);
        OpAssert.Equal(ir, ik, "index");
        OpAssert.Close(sr, sk, "similarity");

        var w = torch.rand([n, k], generator: new Generator(3)).add(0.5);
        torch.where(ir.ge(0), sr, 0.0).mul(w).sum().backward();
        torch.where(ik.ge(0), sk, 0.0).mul(w).sum().backward();
        OpAssert.Close(ar.grad!, ak.grad!, "grad anchors");
        OpAssert.Close(pr.grad!, pk.grad!, "grad positives");
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(20, 3)]
    [InlineData(64, 5)]
    [InlineData(7, 100)]
    public void Splits_GiveIdenticalResults(int k, int splits)
    {
        using var disposeScope = torch.NewDisposeScope();
        var (a, p, g) = Inputs(300, 10, 3, 17, quantized: true);
        var (i1, s1) = InBatchHardestNegatives.KernelForward(a, p, g, k, NegativeScope.OtherGroups, splits: 1);
        var (isp, ssp) = InBatchHardestNegatives.KernelForward(a, p, g, k, NegativeScope.OtherGroups, splits);
        KernelTestUtil.BitEqual(i1, isp, "index");
        KernelTestUtil.BitEqual(s1, ssp, "similarity");
        var (ir, sr) = InBatchHardestNegatives.Apply(a, p, g, k, NegativeScope.OtherGroups, Backend.Reference);
        OpAssert.Equal(ir, isp, "index");
        OpAssert.Close(sr, ssp, "similarity");
    }

    [Theory]
    [InlineData(10)]
    [InlineData(40)]
    public void ExactTies_KeepIndexOrder_AcrossTilesAndSplits(int k)
    {
        using var disposeScope = torch.NewDisposeScope();
        using var gen = new Generator(23);
        int n = 200, d = 5;
        var a = KernelTestUtil.IntegerRows(n, d, gen);
        var p = KernelTestUtil.IntegerRows(n, d, gen);
        // Positive 190 copied to every j ≡ 1 (mod 9): equal similarities spread over all tiles and splits.
        for (int j = 1; j < n; j += 9) p[j].copy_(p[190]);
        var g = torch.arange(n).div(2).floor().@long();
        foreach (var splits in new int?[] { null, 1, 2, 4 })
        {
            var (ir, sr) = InBatchHardestNegatives.Apply(a, p, g, k, NegativeScope.AllButSelf, Backend.Reference);
            var (ik, sk) = InBatchHardestNegatives.KernelForward(a, p, g, k, NegativeScope.AllButSelf, splits);
            OpAssert.Equal(ir, ik, $"index (splits {splits})");
            OpAssert.Close(sr, sk, $"similarity (splits {splits})");
        }
    }

    [Fact]
    public void EmptyFewAndMasked_GiveTheDefinedResults()
    {
        using var disposeScope = torch.NewDisposeScope();
        // N = 0
        var (i0, s0) = InBatchHardestNegatives.Apply(torch.zeros([0, 6]), torch.zeros([0, 6]), torch.zeros([0], ScalarType.Int64), 5, NegativeScope.OtherGroups, Backend.Kernel);
        Assert.Equal(new long[] { 0, 5 }, i0.shape);
        Assert.Equal(new long[] { 0, 5 }, s0.shape);
        // N < k (fewer candidates than slots), k > 32 (two registers per lane)
        var (a, p, g) = Inputs(3, 7, 1, 1);
        var (ir, sr) = InBatchHardestNegatives.Apply(a, p, g, 64, NegativeScope.AllButSelf, Backend.Reference);
        var (ik, sk) = InBatchHardestNegatives.Apply(a, p, g, 64, NegativeScope.AllButSelf, Backend.Kernel);
        OpAssert.Equal(ir, ik, "index");
        OpAssert.Close(sr, sk, "similarity");
        Assert.Equal(-1L, ik[0][2].item<long>());
        Assert.Equal(float.NegativeInfinity, sk[0][63].item<float>());
        // All masked: one group for OtherGroups, singletons for SameGroup; several tiles and splits.
        var (a2, p2, _) = Inputs(150, 9, 1, 2);
        var ak = a2.clone().requires_grad_();
        var one = torch.zeros([150], ScalarType.Int64);
        var singletons = torch.arange(150).@long();
        foreach (var (group, scope) in new[] { (one, NegativeScope.OtherGroups), (singletons, NegativeScope.SameGroup) })
        {
            var (im, sm) = InBatchHardestNegatives.Apply(ak, p2, group, 20, scope, Backend.Kernel);
            Assert.All(im.data<long>().ToArray(), v => Assert.Equal(-1L, v));
            Assert.All(sm.data<float>().ToArray(), v => Assert.Equal(float.NegativeInfinity, v));
            torch.where(im.ge(0), sm, 0.0).sum().backward();
            Assert.Equal(0f, ak.grad!.abs().sum().item<float>());
        }
    }

    [Fact]
    public void ShuffledSchedule_GivesIdenticalResults()
    {
        using var disposeScope = torch.NewDisposeScope();
        var (a, p, g) = Inputs(140, 21, 2, 6);
        var w = torch.randn([140, 40], generator: new Generator(8));
        var (i1, s1) = InBatchHardestNegatives.KernelForward(a, p, g, 40, NegativeScope.OtherGroups, splits: 2);
        var (ga1, gp1) = InBatchHardestNegatives.KernelBackward(a, p, i1, w);
        foreach (var seed in new ulong[] { 2, 77 })
        {
            using (KernelRuntimes.UseHost(KernelTestUtil.Shuffled(seed)))
            {
                var (i2, s2) = InBatchHardestNegatives.KernelForward(a, p, g, 40, NegativeScope.OtherGroups, splits: 2);
                var (ga2, gp2) = InBatchHardestNegatives.KernelBackward(a, p, i2, w);
                KernelTestUtil.BitEqual(i1, i2, "index");
                KernelTestUtil.BitEqual(s1, s2, "similarity");
                KernelTestUtil.BitEqual(ga1, ga2, "grad anchors");
                KernelTestUtil.BitEqual(gp1, gp2, "grad positives");
            }
        }
    }

    [Fact]
    public void ForwardAndBackward_AreBitIdenticalTwice()
    {
        using var disposeScope = torch.NewDisposeScope();
        var (a, p, g) = Inputs(190, 16, 4, 9);
        var w = torch.randn([190, 20], generator: new Generator(4));
        Tensor[]? first = null;
        for (int run = 0; run < 2; run++)
        {
            var (ak, pk) = (a.clone().requires_grad_(), p.clone().requires_grad_());
            var (ik, sk) = InBatchHardestNegatives.Apply(ak, pk, g, 20, NegativeScope.SameGroup, Backend.Kernel);
            torch.where(ik.ge(0), sk, 0.0).mul(w).sum().backward();
            Tensor[] now = [ik, sk, ak.grad!, pk.grad!];
            if (first is null) first = now;
            else for (int t = 0; t < now.Length; t++) KernelTestUtil.BitEqual(first[t], now[t], $"output {t}");
        }
    }

    [GpuFact]
    public void Device_Kernel_MatchesReference()
    {
        using var disposeScope = torch.NewDisposeScope();
        var cuda = new Device(DeviceType.CUDA, 0);
        foreach (var scope in Enum.GetValues<NegativeScope>())
            foreach (var (n, d, k) in new[] { (3, 4, 5), (70, 19, 33), (2048, 128, 20), (1000, 64, 1) })
            {
                var (a, p, g) = Inputs(n, d, 2, (ulong)(n + k), quantized: true);
                var (ar, pr) = (a.clone().requires_grad_(), p.clone().requires_grad_());
                var (ak, pk) = (a.to(cuda).requires_grad_(), p.to(cuda).requires_grad_());
                var (ir, sr) = InBatchHardestNegatives.Apply(ar, pr, g, k, scope, Backend.Reference);
                var (ik, sk) = InBatchHardestNegatives.Apply(ak, pk, g.to(cuda), k, scope, Backend.Kernel);
                OpAssert.Equal(ir, ik.to(torch.CPU), "index");
                OpAssert.Close(sr, sk.to(torch.CPU), "similarity");
                torch.where(ir.ge(0), sr, 0.0).sum().backward();
                torch.where(ik.ge(0), sk, 0.0).sum().backward();
                OpAssert.Close(ar.grad!, ak.grad!.to(torch.CPU), "grad anchors");
                OpAssert.Close(pr.grad!, pk.grad!.to(torch.CPU), "grad positives");
            }
    }
}
