using LocalFeat.Ops;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Op = LocalFeat.Ops.PatchPHash;

namespace LocalFeat.Tests.Ops.PatchPHash;

/// <summary>PatchPHash (OPS.md §4) on every backend: imagehash fixtures, cross-backend agreement, invariants, bad input.</summary>
public class PatchPHashTests
{
    [Theory]
    [MemberData(nameof(PHashTestUtil.AllBackends), MemberType = typeof(PHashTestUtil))]
    public void Fixtures_EqualImagehashPhash_BitForBit(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        var fixtures = PHashFixtures.All;
        Assert.True(fixtures.Count >= 30, "fixture file incomplete");
        var (images, keypoints) = PHashFixtures.Embedded(fixtures);
        foreach (var input in new[] { images, images.to(ScalarType.Float32) })
        {
            var hash = Op.Apply(input, keypoints, 32, backend).data<long>().ToArray();
            for (int i = 0; i < fixtures.Count; i++)
                Assert.True(fixtures[i].Hash == hash[i], $"{fixtures[i].Name} ({input.dtype}): imagehash {fixtures[i].Hash:x16}, {backend} {hash[i]:x16}");
        }
    }

    [Theory]
    [InlineData(Backend.Cpu)]
    [InlineData(Backend.Kernel)]
    public void IntegerPositions_BitExactAgainstReference_BordersIncluded(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        var images = PHashTestUtil.Images(2, 45, 61, 3);
        var keypoints = PHashTestUtil.HalfIntegerKeypoints(2, 150, 45, 61, 4, margin: 20);  // many patches cross the border
        var expected = Op.Apply(images, keypoints, 32, Backend.Reference);
        PHashTestUtil.Equal(expected, Op.Apply(images, keypoints, 32, backend), $"{backend} uint8");
        PHashTestUtil.Equal(expected, Op.Apply(images.to(ScalarType.Float32), keypoints, 32, backend), $"{backend} float32");
    }

    /// <summary>
    /// Arbitrary positions and spacings: Cpu and Kernel run the same float operations (bit-identical); against the float64
    /// Reference a bit may differ only where its coefficient lies within float32 rounding of the median. Counted, and each
    /// difference explained.
    /// </summary>
    [Theory]
    [InlineData(32.0)]
    [InlineData(23.7)]
    [InlineData(51.3)]
    public void NonIntegerInputs_DifferOnlyAtNearMedianCoefficients(double patchSize)
    {
        using var scope = torch.NewDisposeScope();
        using var g = new Generator(9);
        int b = 2, n = 400, h = 70, w = 90;
        var images = torch.rand([b, 1, h, w], generator: g).mul(255);
        var keypoints = torch.cat([torch.rand([b, n, 1], generator: g).mul(w + 10).sub(5), torch.rand([b, n, 1], generator: g).mul(h + 10).sub(5)], 2).contiguous();
        var cpu = Op.Apply(images, keypoints, patchSize, Backend.Cpu);
        PHashTestUtil.Equal(cpu, Op.Apply(images, keypoints, patchSize, Backend.Kernel), "Kernel vs Cpu");

        var reference = Op.Apply(images, keypoints, patchSize, Backend.Reference).data<long>().ToArray();
        var (dct, median) = Op.ReferenceCoefficients(images, keypoints, (float)(patchSize / 32));
        var coefficients = dct.reshape(b * n, 64).data<double>().ToArray();
        var medians = median.reshape(b * n).data<double>().ToArray();
        var ours = cpu.data<long>().ToArray();
        int differingBits = 0, differingPatches = 0;
        for (int p = 0; p < b * n; p++)
        {
            ulong diff = unchecked((ulong)(reference[p] ^ ours[p]));
            if (diff == 0) continue;
            differingPatches++;
            double scale = 0;
            for (int i = 0; i < 64; i++) scale = Math.Max(scale, Math.Abs(coefficients[p * 64 + i]));
            for (int i = 0; i < 64; i++)
            {
                if ((diff >> (63 - i) & 1) == 0) continue;
                differingBits++;
                // float32 sampling and transforms: ~1e-6 relative per step over ~40 steps, against the patch's largest coefficient.
                double gap = Math.Abs(coefficients[p * 64 + i] - medians[p]);
                Assert.True(gap <= 1e-5 * scale, $"patch {p} bit {i}: coefficient {coefficients[p * 64 + i]} is {gap} from the median {medians[p]} (scale {scale})");
            }
        }
        // The median gap is ~scale/64 typically: near-ties are rare, so few patches may differ at all.
        Assert.True(differingPatches <= b * n / 50, $"{differingPatches} of {b * n} patches ({differingBits} bits) differ");
    }

    [Theory]
    [MemberData(nameof(PHashTestUtil.AllBackends), MemberType = typeof(PHashTestUtil))]
    public void BrightnessOffsetAndPositiveContrast_LeaveHashUnchanged(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        var images = PHashTestUtil.Images(2, 40, 50, 11).to(ScalarType.Float32).mul(0.5).floor();  // 0..127: room for offsets
        var keypoints = PHashTestUtil.HalfIntegerKeypoints(2, 60, 40, 50, 12);
        var hash = Op.Apply(images, keypoints, 32, backend);
        PHashTestUtil.Equal(hash, Op.Apply(images.add(17), keypoints, 32, backend), "offset +17");
        PHashTestUtil.Equal(hash, Op.Apply(images.mul(2), keypoints, 32, backend), "contrast ×2");
        PHashTestUtil.Equal(hash, Op.Apply(images.mul(2).add(1), keypoints, 32, backend), "contrast ×2, offset +1");
    }

    [Theory]
    [MemberData(nameof(PHashTestUtil.AllBackends), MemberType = typeof(PHashTestUtil))]
    public void TransposedPatch_GivesTransposedBits(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        var images = PHashTestUtil.Images(1, 48, 48, 21);
        var keypoints = PHashTestUtil.HalfIntegerKeypoints(1, 50, 48, 48, 22);
        var hash = Op.Apply(images, keypoints, 32, backend).data<long>().ToArray();
        var transposed = Op.Apply(images.transpose(2, 3).contiguous(), keypoints.flip(2).contiguous(), 32, backend).data<long>().ToArray();
        for (int i = 0; i < hash.Length; i++)
            Assert.Equal(PHashTestUtil.Transpose(hash[i]).ToString("x16"), transposed[i].ToString("x16"));
    }

    [Theory]
    [MemberData(nameof(PHashTestUtil.AllBackends), MemberType = typeof(PHashTestUtil))]
    public void KeypointsOutsideTheImage_AreClamped(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        var images = PHashTestUtil.Images(1, 20, 30, 31);
        images[0, 0, 0, 0] = torch.tensor((byte)200);
        images[0, 0, 19, 29] = torch.tensor((byte)0);
        // Far outside: every sample clamps to one corner pixel, a flat patch: only the DC bit (set iff the pixel > 0).
        var keypoints = torch.tensor(new float[] { -500, -80, 1e6f, 3e4f, -1e5f, 1e5f }, [1, 3, 2]);
        var hash = Op.Apply(images, keypoints, 32, backend).data<long>().ToArray();
        long corner = images[0, 0, 19, 0].item<byte>() > 0 ? long.MinValue : 0L;
        Assert.Equal([long.MinValue, 0L, corner], hash);
        // Partly outside: rows all clamp to the last one, so any y beyond the image gives the same patch.
        var partly = Op.Apply(images, torch.tensor(new float[] { -5, 300, -5, 1e4f }, [1, 2, 2]), 32, backend).data<long>().ToArray();
        Assert.Equal(partly[0], partly[1]);
    }

    [Theory]
    [MemberData(nameof(PHashTestUtil.AllBackends), MemberType = typeof(PHashTestUtil))]
    public void NanOrInfKeypoints_AreRejected(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        var images = PHashTestUtil.Images(1, 20, 30, 1);
        foreach (var bad in new[] { float.NaN, float.PositiveInfinity })
        {
            var e = Assert.Throws<ArgumentException>(() => Op.Apply(images, torch.tensor(new float[] { 3, bad }, [1, 1, 2]), 32, backend));
            Assert.Equal("keypoints", e.ParamName);
        }
    }

    [Theory]
    [MemberData(nameof(PHashTestUtil.AllBackends), MemberType = typeof(PHashTestUtil))]
    public void EmptyN_GivesEmptyHash(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        var hash = Op.Apply(PHashTestUtil.Images(3, 20, 30, 1), torch.zeros([3, 0, 2]), 32, backend);
        Assert.Equal([3L, 0L], hash.shape);
        Assert.Equal(ScalarType.Int64, hash.dtype);
    }

    [Fact]
    public void BadArguments_NameTheArgument()
    {
        using var scope = torch.NewDisposeScope();
        var images = PHashTestUtil.Images(2, 20, 30, 1);
        var keypoints = torch.zeros([2, 4, 2]);
        Assert.Equal("images", Assert.Throws<ArgumentException>(() => Op.Apply(images.to(ScalarType.Int32), keypoints)).ParamName);
        Assert.Equal("images", Assert.Throws<ArgumentException>(() => Op.Apply(images.expand(2, 3, 20, 30).contiguous(), keypoints)).ParamName);
        Assert.Equal("images", Assert.Throws<ArgumentException>(() => Op.Apply(images.transpose(2, 3), keypoints)).ParamName);
        Assert.Equal("keypoints", Assert.Throws<ArgumentException>(() => Op.Apply(images, torch.zeros([3, 4, 2]))).ParamName);
        Assert.Equal("keypoints", Assert.Throws<ArgumentException>(() => Op.Apply(images, torch.zeros([2, 4, 3]))).ParamName);
        Assert.Equal("keypoints", Assert.Throws<ArgumentException>(() => Op.Apply(images, torch.zeros([2, 4, 2], ScalarType.Float64))).ParamName);
        Assert.Equal("patchSize", Assert.Throws<ArgumentOutOfRangeException>(() => Op.Apply(images, keypoints, 0)).ParamName);
        Assert.Equal("patchSize", Assert.Throws<ArgumentOutOfRangeException>(() => Op.Apply(images, keypoints, double.NaN)).ParamName);
        var nanImage = images.to(ScalarType.Float32);
        nanImage[1, 0, 3, 3] = torch.tensor(float.NaN);
        Assert.Equal("images", Assert.Throws<ArgumentException>(() => Op.Apply(nanImage, keypoints)).ParamName);
    }

    [Theory]
    [InlineData(1UL)]
    [InlineData(2UL)]
    [InlineData(3UL)]
    public void Kernel_UnderShuffledSchedule_EqualsCpu(ulong seed)
    {
        using var scope = torch.NewDisposeScope();
        using var g = new Generator(seed);
        var images = torch.rand([2, 1, 50, 60], generator: g).mul(255);
        var keypoints = torch.cat([torch.rand([2, 37, 1], generator: g).mul(60), torch.rand([2, 37, 1], generator: g).mul(50)], 2).contiguous();
        var expected = Op.Apply(images, keypoints, 27, Backend.Cpu);
        using var runtime = PHashTestUtil.Shuffled(seed);
        using (KernelRuntimes.UseHost(runtime))
            PHashTestUtil.Equal(expected, Op.Apply(images, keypoints, 27, Backend.Kernel), $"shuffled seed {seed}");
    }
}
