using LocalFeat.Cuda;
using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;

namespace LocalFeat.Tests.Ops;

/// <summary>
/// The Kernel backend of D2SoftDetect (kernels/d2_soft_detect.cu): host emulation schedules, determinism,
/// the channel-chunk and spatial-tile decomposition (32×8 tiles with a 1-pixel halo), ties, and the CUDA device.
/// </summary>
public class D2SoftDetectKernelTests
{
    private static (Tensor scores, Tensor grad) Run(Tensor x, Tensor g, int? chunks = null) =>
        (D2SoftDetect.KernelForward(x, 1e-12, chunks), D2SoftDetect.KernelBackward(x, g, 1e-12, chunks));

    private static (Tensor scores, Tensor grad) ReferenceOf(Tensor x, Tensor g)
    {
        var xr = x.clone().requires_grad_();
        var s = D2SoftDetect.Apply(xr, backend: Backend.Reference);
        (s * g).sum().backward();
        return (s.detach(), xr.grad!);
    }

    private static void AssertBitEqual(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        var e = expected.data<float>().ToArray();
        var a = actual.data<float>().ToArray();
        for (int i = 0; i < e.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(e[i]) == BitConverter.SingleToInt32Bits(a[i]), $"{what}[{i}]: {e[i]:R} vs {a[i]:R}");
    }

    private static (Tensor x, Tensor g) Inputs(long[] shape, ulong seed)
    {
        var gen = new Generator(seed);
        return (torch.randn(shape, generator: gen), torch.rand([shape[0], shape[2], shape[3]], generator: gen));
    }

    [Theory]
    [InlineData(2, 64, 40, 40)]   // several tiles and chunks, partial tiles in x and y
    [InlineData(3, 17, 4, 33)]
    [InlineData(1, 9, 1, 70)]     // a single row over three tiles
    public void ShuffledSchedule_GivesBitIdenticalResults_ToTheInOrderSchedule(int b, int c, int h, int w)
    {
        using var scope = torch.NewDisposeScope();
        var (x, g) = Inputs([b, c, h, w], 21);
        (Tensor scores, Tensor grad) inOrder, shuffled;
        using (var rt = new HostKernelRuntime(new HostEmulationOptions()))
        using (KernelRuntimes.UseHost(rt))
            inOrder = Run(x, g);
        foreach (ulong seed in new ulong[] { 1, 2, 3 })
        {
            using var rt = new HostKernelRuntime(new HostEmulationOptions(ShuffledSchedule: true, Seed: seed));
            using (KernelRuntimes.UseHost(rt))
                shuffled = Run(x, g);
            AssertBitEqual(inOrder.scores, shuffled.scores, $"scores (seed {seed})");
            AssertBitEqual(inOrder.grad, shuffled.grad, $"grad (seed {seed})");
        }
    }

    [Fact]
    public void BiggerCase_MatchesReference()
    {
        using var scope = torch.NewDisposeScope();
        var (x, g) = Inputs([2, 64, 40, 40], 22);
        var (rs, rg) = ReferenceOf(x, g);
        var xb = x.clone().requires_grad_();
        var s = D2SoftDetect.Apply(xb, backend: Backend.Kernel);
        (s * g).sum().backward();
        OpAssert.Close(rs, s, "scores");
        OpAssert.Close(rg, xb.grad!, "grad", atol: 1e-5, rtol: 1e-3);
    }

    [Fact]
    public void TwoRuns_AreBitIdentical_AcrossWorkerCounts()
    {
        using var scope = torch.NewDisposeScope();
        var (x, g) = Inputs([2, 24, 19, 45], 23);
        var first = Run(x, g);
        var second = Run(x, g);
        AssertBitEqual(first.scores, second.scores, "scores");
        AssertBitEqual(first.grad, second.grad, "grad");
        using var one = new HostKernelRuntime(new HostEmulationOptions(Workers: 1));
        using (KernelRuntimes.UseHost(one))
        {
            var single = Run(x, g);
            AssertBitEqual(first.scores, single.scores, "scores (1 worker)");
            AssertBitEqual(first.grad, single.grad, "grad (1 worker)");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    [InlineData(13)]   // = C: one channel per chunk
    [InlineData(40)]   // more chunks than channels: clamped to C
    public void ChannelChunks_DoNotChangeTheResult(int chunks)
    {
        using var scope = torch.NewDisposeScope();
        var (x, g) = Inputs([2, 13, 11, 35], 24);
        var whole = Run(x, g, chunks: 1);
        var split = Run(x, g, chunks);
        AssertBitEqual(whole.scores, split.scores, "scores");
        AssertBitEqual(whole.grad, split.grad, "grad");
    }

    public static IEnumerable<object[]> TileEdgeShapes()
    {
        // Maps at and around the 32×8 tile: exact multiples, one more, one less, and degenerate rows/columns.
        long[][] shapes =
        [
            [1, 3, 8, 32], [1, 3, 9, 33], [1, 3, 7, 31], [2, 4, 16, 64], [1, 2, 17, 65],
            [1, 5, 1, 33], [1, 5, 33, 1], [2, 1, 8, 1], [1, 1, 1, 2], [1, 1, 2, 1],
        ];
        foreach (var s in shapes) yield return [s];
    }

    [Theory]
    [MemberData(nameof(TileEdgeShapes))]
    public void TileEdges_MatchReference(long[] shape)
    {
        using var scope = torch.NewDisposeScope();
        var (x, g) = Inputs(shape, 25);
        // Put the strongest responses on the tile seams, where the halo carries the window.
        var xs = HostMemory.Span<float>(x);
        long h = shape[2], w = shape[3];
        for (long i = 0; i < xs.Length; i++)
        {
            long col = i % w, row = i / w % h;
            if (col % 32 == 31 || col % 32 == 0 || row % 8 == 7 || row % 8 == 0) xs[(int)i] += 1.5f;
        }
        var (rs, rg) = ReferenceOf(x, g);
        foreach (int? chunks in new int?[] { null, 1, (int)shape[1] })
        {
            var (s, dx) = Run(x, g, chunks);
            OpAssert.Close(rs, s, $"scores (chunks {chunks})");
            OpAssert.Close(rg, dx, $"grad (chunks {chunks})", atol: 1e-5, rtol: 1e-3);
        }
    }

    [Fact]
    public void Ties_SendTheGradientToTheFirstChannel()
    {
        // Channels 3, 4 duplicate 0, 1 (and 5 duplicates 0): every channel max and the sample max are ties.
        using var scope = torch.NewDisposeScope();
        var (x0, g) = Inputs([2, 3, 9, 37], 26);
        var x = torch.cat([x0, x0.narrow(1, 0, 2), x0.narrow(1, 0, 1)], 1).contiguous();
        var (rs, rg) = ReferenceOf(x, g);
        foreach (int? chunks in new int?[] { null, 1, 3, 6 })
        {
            var (s, dx) = Run(x, g, chunks);
            OpAssert.Close(rs, s, "scores");
            OpAssert.Close(rg, dx, "grad", atol: 1e-5, rtol: 1e-3);
            Assert.All(dx.narrow(1, 3, 3).data<float>().ToArray(), v => Assert.Equal(0f, v));
        }
    }

    [Fact]
    public void DeadSample_ScoresZero_AndGetsNoGradient_NextToALiveOne()
    {
        using var scope = torch.NewDisposeScope();
        var (x, g) = Inputs([2, 4, 10, 34], 27);
        x = torch.cat([torch.full([1, 4, 10, 34], -1.0), x.narrow(0, 1, 1)], 0).contiguous();
        var (rs, rg) = ReferenceOf(x, g);
        var (s, dx) = Run(x, g);
        OpAssert.Close(rs, s, "scores");
        OpAssert.Close(rg, dx, "grad", atol: 1e-5, rtol: 1e-3);
        Assert.All(s.narrow(0, 0, 1).data<float>().ToArray(), v => Assert.Equal(0f, v));
        Assert.All(dx.narrow(0, 0, 1).data<float>().ToArray(), v => Assert.Equal(0f, v));
    }

    [GpuFact]
    public void Device_MatchesReference()
    {
        using var scope = torch.NewDisposeScope();
        var cuda = new Device(DeviceType.CUDA, 0);
        foreach (long[] shape in new long[][] { [2, 64, 40, 40], [3, 17, 4, 33], [1, 1, 5, 1], [2, 128, 64, 64] })
        {
            var (x, g) = Inputs(shape, 28);
            var (rs, rg) = ReferenceOf(x, g);
            var xd = x.to(cuda).requires_grad_();
            var s = D2SoftDetect.Apply(xd, backend: Backend.Kernel);
            (s * g.to(cuda)).sum().backward();
            OpAssert.Close(rs, s.to(new Device(DeviceType.CPU)), $"scores {string.Join('x', shape)}");
            OpAssert.Close(rg, xd.grad!.to(new Device(DeviceType.CPU)), $"grad {string.Join('x', shape)}", atol: 1e-5, rtol: 1e-3);
            // The device agrees with the host emulation of the same kernels.
            var (hs, hg) = Run(x, g);
            OpAssert.Close(hs, s.to(new Device(DeviceType.CPU)), "scores vs host", atol: 1e-7, rtol: 1e-5);
            OpAssert.Close(hg, xd.grad!.to(new Device(DeviceType.CPU)), "grad vs host", atol: 1e-8, rtol: 1e-4);
        }
    }
}
