using LocalFeat.Cuda;
using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;
using Xunit.Abstractions;
using F = TorchSharp.torch.nn.functional;

namespace LocalFeat.Tests.Ops;

/// <summary>Helpers of the kernels/hard_negative.cu tests.</summary>
internal static class KernelTestUtil
{
    /// <summary>Bit-identical tensors (floats compared by their bits, so −0 ≠ +0 and NaN = NaN).</summary>
    public static void BitEqual(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(expected.dtype, actual.dtype);
        if (expected.dtype == ScalarType.Int64)
        {
            Assert.Equal(expected.data<long>().ToArray(), actual.data<long>().ToArray());
            return;
        }
        var e = expected.data<float>().ToArray();
        var a = actual.data<float>().ToArray();
        for (int i = 0; i < e.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(e[i]) == BitConverter.SingleToInt32Bits(a[i]), $"{what}[{i}]: {e[i]:R} vs {a[i]:R}");
    }

    /// <summary>The emulator with threads in a seeded random order between barriers.</summary>
    public static HostKernelRuntime Shuffled(ulong seed) => new(new HostEmulationOptions(ShuffledSchedule: true, Seed: seed));

    /// <summary>Small integers as floats: every dot product and norm is exact, so equal rows tie exactly in every backend.</summary>
    public static Tensor IntegerRows(long rows, long d, Generator g) => torch.randint(-3, 4, [rows, d], generator: g).@float();

    /// <summary>
    /// Rounds to multiples of 1/16: dot products and norms of such rows are exact in float32 in any summation
    /// order (with or without FMA), so a near-tie can never flip between backends: for tests whose inputs have
    /// many candidates per row, where random floats would meet rounding-level near-ties.
    /// </summary>
    public static Tensor Quantized(Tensor t) => t.mul(16.0).round().div(16.0);
}

/// <summary>The Kernel backend of <see cref="HardestNegatives"/> (kernels/hard_negative.cu, host emulation here) against Reference.</summary>
public class HardestNegativesKernelTests
{
    internal static (Tensor a, Tensor c, Tensor ap, Tensor cp) Inputs(int n, int m, int d, SafeWindow window, ulong seed, bool quantized = false)
    {
        using var g = new Generator(seed);
        var a = F.normalize(torch.randn([n, d], generator: g));
        var c = F.normalize(torch.randn([m, d], generator: g));
        if (quantized) (a, c) = (KernelTestUtil.Quantized(a), KernelTestUtil.Quantized(c));
        int k = window == SafeWindow.Square ? 2 : 3;
        // Positions on a 0.5 grid: no candidate lies exactly on the window's boundary (radius 4 / 5.3).
        var ap = torch.randint(0, 24, [n, k], generator: g).@float().mul(0.5);
        var cp = torch.randint(0, 24, [m, k], generator: g).@float().mul(0.5);
        return (a, c, ap, cp);
    }

    private static double Radius(SafeWindow w) => w == SafeWindow.Square ? 4 : 5.3;

    public static IEnumerable<object[]> Shapes()
    {
        foreach (var window in new[] { SafeWindow.Square, SafeWindow.Sphere })
            foreach (var (n, m, d) in new[] { (1, 1, 1), (37, 53, 19), (64, 64, 32), (65, 129, 33), (130, 200, 8), (3, 700, 5), (200, 17, 64) })
                yield return [window, n, m, d];
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ForwardAndBackward_MatchReference(SafeWindow window, int n, int m, int d)
    {
        using var scope = torch.NewDisposeScope();
        var (a, c, ap, cp) = Inputs(n, m, d, window, (ulong)(7 * n + m + d));
        var (ar, cr) = (a.clone().requires_grad_(), c.clone().requires_grad_());
        var (ak, ck) = (a.clone().requires_grad_(), c.clone().requires_grad_());
        var (ir, dr) = HardestNegatives.Apply(ar, cr, ap, cp, Radius(window), window, Backend.Reference);
        var (ik, dk) = HardestNegatives.Apply(ak, ck, ap, cp, Radius(window), window, Backend.Kernel);
        OpAssert.Equal(ir, ik, "index");
        OpAssert.Close(dr, dk, "distance");

        var w = torch.rand([n], generator: new Generator(11)).add(0.5);
        torch.where(ir.ge(0), dr, 0.0).mul(w).sum().backward();
        torch.where(ik.ge(0), dk, 0.0).mul(w).sum().backward();
        OpAssert.Close(ar.grad!, ak.grad!, "grad anchors");
        OpAssert.Close(cr.grad!, ck.grad!, "grad candidates");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(100)]
    public void Splits_GiveIdenticalResults(int splits)
    {
        using var scope = torch.NewDisposeScope();
        var (a, c, ap, cp) = Inputs(70, 450, 12, SafeWindow.Square, 5, quantized: true);
        var (i1, d1) = HardestNegatives.KernelForward(a, c, ap, cp, 4f, SafeWindow.Square, splits: 1);
        var (isp, ds) = HardestNegatives.KernelForward(a, c, ap, cp, 4f, SafeWindow.Square, splits);
        KernelTestUtil.BitEqual(i1, isp, "index");
        KernelTestUtil.BitEqual(d1, ds, "distance");
        var (ir, dr) = HardestNegatives.Apply(a, c, ap, cp, 4, SafeWindow.Square, Backend.Reference);
        OpAssert.Equal(ir, isp, "index");
        OpAssert.Close(dr, ds, "distance");
    }

    [Theory]
    [InlineData(SafeWindow.Square)]
    [InlineData(SafeWindow.Sphere)]
    public void ExactTies_PickTheSmallestIndex_AcrossTilesAndSplits(SafeWindow window)
    {
        using var scope = torch.NewDisposeScope();
        using var g = new Generator(21);
        int n = 90, m = 300, d = 6, k = window == SafeWindow.Square ? 2 : 3;
        var a = KernelTestUtil.IntegerRows(n, d, g);
        var c = KernelTestUtil.IntegerRows(m, d, g);
        // Candidate 250 (last tile) copied to every j ≡ 0 (mod 7), across tiles and splits; every third anchor is a copy too.
        for (int j = 0; j < m; j += 7) c[j].copy_(c[250]);
        for (int i = 0; i < n; i += 3) a[i].copy_(c[250]);
        var ap = torch.zeros([n, k]);
        var cp = torch.full([m, k], 100.0);
        cp[0].fill_(0);  // inside every window: never admissible
        foreach (var splits in new int?[] { null, 1, 2, 5 })
        {
            var (ir, dr) = HardestNegatives.Apply(a, c, ap, cp, 4, window, Backend.Reference);
            var (ik, dk) = HardestNegatives.KernelForward(a, c, ap, cp, 4f, window, splits);
            OpAssert.Equal(ir, ik, $"index (splits {splits})");
            OpAssert.Close(dr, dk, $"distance (splits {splits})");
            for (int i = 0; i < n; i += 3) Assert.Equal(7L, ik[i].item<long>());  // j = 7 is the first admissible copy
        }
    }

    [Fact]
    public void EmptyAndMaskedInputs_GiveTheDefinedResults()
    {
        using var scope = torch.NewDisposeScope();
        // N = 0
        var (i0, d0) = HardestNegatives.Apply(torch.zeros([0, 5]), torch.randn([4, 5]), torch.zeros([0, 2]), torch.zeros([4, 2]), 1, SafeWindow.Square, Backend.Kernel);
        Assert.Equal(new long[] { 0 }, i0.shape);
        Assert.Equal(new long[] { 0 }, d0.shape);
        // M = 0
        var (i1, d1) = HardestNegatives.Apply(torch.randn([5, 3]), torch.zeros([0, 3]), torch.zeros([5, 3]), torch.zeros([0, 3]), 1, SafeWindow.Sphere, Backend.Kernel);
        Assert.All(i1.data<long>().ToArray(), v => Assert.Equal(-1L, v));
        Assert.All(d1.data<float>().ToArray(), v => Assert.Equal(float.PositiveInfinity, v));
        // Everything inside the window (the radius covers the whole map), several tiles and splits.
        var (a, c, ap, cp) = Inputs(70, 150, 9, SafeWindow.Square, 2);
        var ak = a.clone().requires_grad_();
        var ck = c.clone().requires_grad_();
        var (i2, d2) = HardestNegatives.Apply(ak, ck, ap, cp, 1000, SafeWindow.Square, Backend.Kernel);
        Assert.All(i2.data<long>().ToArray(), v => Assert.Equal(-1L, v));
        Assert.All(d2.data<float>().ToArray(), v => Assert.Equal(float.PositiveInfinity, v));
        torch.where(i2.ge(0), d2, 0.0).sum().backward();
        Assert.Equal(0f, ak.grad!.abs().sum().item<float>());
        Assert.Equal(0f, ck.grad!.abs().sum().item<float>());
        // Some rows masked, others not (anchors far from all candidates get a result).
        var ap2 = ap.clone();
        ap2.narrow(0, 0, 35).fill_(5000);
        var (ir, dr) = HardestNegatives.Apply(a, c, ap2, cp, 1000, SafeWindow.Square, Backend.Reference);
        var (ik, dk) = HardestNegatives.Apply(a, c, ap2, cp, 1000, SafeWindow.Square, Backend.Kernel);
        OpAssert.Equal(ir, ik, "index");
        OpAssert.Close(dr, dk, "distance");
    }

    [Fact]
    public void ShuffledSchedule_GivesIdenticalResults()
    {
        using var scope = torch.NewDisposeScope();
        var (a, c, ap, cp) = Inputs(100, 260, 21, SafeWindow.Sphere, 4);
        var idx = torch.randint(-1, 260, [100], generator: new Generator(3));
        idx.narrow(0, 0, 40).fill_(17);  // a bucket with many anchors
        var grad = torch.randn([100], generator: new Generator(4));
        var (i1, d1) = HardestNegatives.KernelForward(a, c, ap, cp, 5.3f, SafeWindow.Sphere, splits: 3);
        var (ga1, gc1) = HardestNegatives.KernelBackward(a, c, idx, grad);
        foreach (var seed in new ulong[] { 1, 99 })
        {
            using (KernelRuntimes.UseHost(KernelTestUtil.Shuffled(seed)))
            {
                var (i2, d2) = HardestNegatives.KernelForward(a, c, ap, cp, 5.3f, SafeWindow.Sphere, splits: 3);
                var (ga2, gc2) = HardestNegatives.KernelBackward(a, c, idx, grad);
                KernelTestUtil.BitEqual(i1, i2, "index");
                KernelTestUtil.BitEqual(d1, d2, "distance");
                KernelTestUtil.BitEqual(ga1, ga2, "grad anchors");
                KernelTestUtil.BitEqual(gc1, gc2, "grad candidates");
            }
        }
    }

    [Fact]
    public void Backward_IsDeterministic_AndMatchesReference_WithSharedNegatives()
    {
        using var scope = torch.NewDisposeScope();
        // Candidate 0 (the anchors' mean, always admissible) is nearly every anchor's hardest negative, the
        // others lie on a sphere of radius 3: one long bucket in the candidate gradient.
        var (a, c, ap, cp) = Inputs(300, 90, 10, SafeWindow.Square, 8);
        c.narrow(0, 1, 89).copy_(c.narrow(0, 1, 89).mul(3.0));
        c.narrow(0, 0, 1).copy_(a.mean([0], keepdim: true));
        cp.narrow(0, 0, 1).fill_(-100);
        var (ar, cr) = (a.clone().requires_grad_(), c.clone().requires_grad_());
        var (ir, dr) = HardestNegatives.Apply(ar, cr, ap, cp, 4, SafeWindow.Square, Backend.Reference);
        var w = torch.randn([300], generator: new Generator(5));
        torch.where(ir.ge(0), dr, 0.0).mul(w).sum().backward();

        Tensor? first = null, firstA = null;
        for (int run = 0; run < 2; run++)
        {
            var (ak, ck) = (a.clone().requires_grad_(), c.clone().requires_grad_());
            var (ik, dk) = HardestNegatives.Apply(ak, ck, ap, cp, 4, SafeWindow.Square, Backend.Kernel);
            OpAssert.Equal(ir, ik, "index");
            torch.where(ik.ge(0), dk, 0.0).mul(w).sum().backward();
            OpAssert.Close(ar.grad!, ak.grad!, "grad anchors");
            OpAssert.Close(cr.grad!, ck.grad!, "grad candidates");
            if (first is null) { first = ck.grad!.clone(); firstA = ak.grad!.clone(); }
            else { KernelTestUtil.BitEqual(first, ck.grad!, "grad candidates"); KernelTestUtil.BitEqual(firstA!, ak.grad!, "grad anchors"); }
        }
        Assert.True(ir.eq(0).sum().item<long>() > 50, "the test needs a long bucket");
    }

    [Fact]
    public void Forward_IsBitIdenticalTwice()
    {
        using var scope = torch.NewDisposeScope();
        var (a, c, ap, cp) = Inputs(150, 333, 40, SafeWindow.Square, 6);
        var (i1, d1) = HardestNegatives.Apply(a, c, ap, cp, 4, SafeWindow.Square, Backend.Kernel);
        var (i2, d2) = HardestNegatives.Apply(a, c, ap, cp, 4, SafeWindow.Square, Backend.Kernel);
        KernelTestUtil.BitEqual(i1, i2, "index");
        KernelTestUtil.BitEqual(d1, d2, "distance");
    }

    [GpuFact]
    public void Device_Kernel_MatchesReference()
    {
        using var scope = torch.NewDisposeScope();
        var cuda = new Device(DeviceType.CUDA, 0);
        foreach (var window in new[] { SafeWindow.Square, SafeWindow.Sphere })
            foreach (var (n, m, d) in new[] { (1, 1, 1), (37, 53, 19), (1024, 4096, 128), (300, 2000, 33) })
            {
                var (a, c, ap, cp) = Inputs(n, m, d, window, (ulong)(n + m), quantized: true);
                var (ir, dr) = HardestNegatives.Apply(a, c, ap, cp, Radius(window), window, Backend.Reference);
                var (ak, ck) = (a.to(cuda).requires_grad_(), c.to(cuda).requires_grad_());
                var (ik, dk) = HardestNegatives.Apply(ak, ck, ap.to(cuda), cp.to(cuda), Radius(window), window, Backend.Kernel);
                OpAssert.Equal(ir, ik.to(torch.CPU), "index");
                OpAssert.Close(dr, dk.to(torch.CPU), "distance");

                var (ar, cr) = (a.clone().requires_grad_(), c.clone().requires_grad_());
                var (ir2, dr2) = HardestNegatives.Apply(ar, cr, ap, cp, Radius(window), window, Backend.Reference);
                torch.where(ir2.ge(0), dr2, 0.0).sum().backward();
                torch.where(ik.ge(0), dk, 0.0).sum().backward();
                OpAssert.Close(ar.grad!, ak.grad!.to(torch.CPU), "grad anchors");
                OpAssert.Close(cr.grad!, ck.grad!.to(torch.CPU), "grad candidates");
            }
    }
}

/// <summary>The Kernel miners never hold the N×M matrix: peak resident memory of the host emulation, measured alone.</summary>
[Collection(SerialCollection.Name)]
public class HardestNegativesKernelMemoryTests(ITestOutputHelper output)
{
    [Fact]
    public void LargeMining_AllocatesFarLessThanTheDistanceMatrix()
    {
        const int n = 8000, m = 8000, d = 8;
        using var scope = torch.NewDisposeScope();
        var (a, c, ap, cp) = HardestNegativesKernelTests.Inputs(n, m, d, SafeWindow.Square, 12, quantized: true);
        using (var warm = torch.NewDisposeScope())
            HardestNegatives.Apply(a.narrow(0, 0, 100), c.narrow(0, 0, 100), ap.narrow(0, 0, 100), cp.narrow(0, 0, 100), 4, SafeWindow.Square, Backend.Kernel);
        Tensor? index = null;
        long peak = OpAssert.PeakResidentBytesSinceReset(() => index = HardestNegatives.Apply(a, c, ap, cp, 4, SafeWindow.Square, Backend.Kernel).index);
        long matrix = (long)n * m * sizeof(float);  // 256 MB
        output.WriteLine($"peak resident growth {peak / 1e6:F1} MB (N×M matrix {matrix / 1e6:F0} MB)");
        Assert.True(peak < matrix / 8, $"peak resident growth {peak / 1e6:F1} MB; the N×M matrix is {matrix / 1e6:F0} MB");
        // Spot-check a few rows against the Reference on the same candidates.
        var rows = torch.arange(0, n, 997).@long();
        var (ir, _) = HardestNegatives.Apply(a.index_select(0, rows), c, ap.index_select(0, rows), cp, 4, SafeWindow.Square, Backend.Reference);
        OpAssert.Equal(ir, index!.index_select(0, rows), "index");
    }

    [Fact]
    public void LargeInBatchMining_AllocatesFarLessThanTheSimilarityMatrix()
    {
        const int n = 4096, d = 8, k = 1;  // k = 1 (HNDesc): the emulated warp insertions of larger k cost seconds here
        using var disposeScope = torch.NewDisposeScope();
        var (a, p, g) = InBatchHardestNegativesKernelTests.Inputs(n, d, 2, 12, quantized: true);
        using (var warm = torch.NewDisposeScope())
            InBatchHardestNegatives.Apply(a.narrow(0, 0, 100), p.narrow(0, 0, 100), g.narrow(0, 0, 100), k, NegativeScope.OtherGroups, Backend.Kernel);
        Tensor? index = null;
        long peak = OpAssert.PeakResidentBytesSinceReset(() => index = InBatchHardestNegatives.Apply(a, p, g, k, NegativeScope.OtherGroups, Backend.Kernel).index);
        long matrix = (long)n * n * sizeof(float);  // 64 MB
        output.WriteLine($"peak resident growth {peak / 1e6:F1} MB (N×N matrix {matrix / 1e6:F0} MB)");
        Assert.True(peak < matrix / 4, $"peak resident growth {peak / 1e6:F1} MB; the N×N matrix is {matrix / 1e6:F0} MB");
        var (ic, _) = InBatchHardestNegatives.Apply(a, p, g, k, NegativeScope.OtherGroups, Backend.Cpu);
        OpAssert.Equal(ic, index!, "index");
    }
}
