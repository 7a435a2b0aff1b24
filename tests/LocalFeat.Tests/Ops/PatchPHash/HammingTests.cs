using LocalFeat.Ops;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LocalFeat.Tests.Ops.PatchPHash;

/// <summary>Hamming and IntrinsicImportance (OPS.md §4) on every backend.</summary>
public class HammingTests
{
    private static Tensor RandomHashes(long[] shape, ulong seed)
    {
        using var g = new Generator(seed);
        return torch.randint(long.MinValue, long.MaxValue, shape, ScalarType.Int64, generator: g);
    }

    [Theory]
    [MemberData(nameof(PHashTestUtil.AllBackends), MemberType = typeof(PHashTestUtil))]
    public void KnownValues(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        var a = torch.tensor(new long[] { 0, 0, long.MinValue, -1, 0x0F0F, 12345 });
        var b = torch.tensor(new long[] { -1, 0, 0, long.MaxValue, 0x00FF, 12345 });
        Assert.Equal([64, 0, 1, 1, 8, 0], Hamming.Apply(a, b, backend).data<int>().ToArray());
        var cross = Hamming.Cross(a.narrow(0, 0, 3), b.narrow(0, 0, 2), backend);
        Assert.Equal([3L, 2L], cross.shape);
        Assert.Equal([64, 0, 64, 0, 63, 1], cross.data<int>().ToArray());
    }

    [Theory]
    [InlineData(Backend.Cpu)]
    [InlineData(Backend.Kernel)]
    public void MatchReference(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        var a = RandomHashes([3, 300], 1);
        var b = RandomHashes([3, 300], 2);
        PHashTestUtil.Equal(Hamming.Apply(a, b, Backend.Reference), Hamming.Apply(a, b, backend), "pairs");
        var x = RandomHashes([123], 3);
        var y = RandomHashes([301], 4);
        PHashTestUtil.Equal(Hamming.Cross(x, y, Backend.Reference), Hamming.Cross(x, y, backend), "cross");
        Assert.Equal(ScalarType.Int32, Hamming.Apply(a, b, backend).dtype);
        Assert.Equal([0L, 301L], Hamming.Cross(torch.empty([0], ScalarType.Int64), y, backend).shape);
        Assert.Equal([0L], Hamming.Apply(torch.empty([0], ScalarType.Int64), torch.empty([0], ScalarType.Int64), backend).shape);
    }

    [Fact]
    public void BadArguments_NameTheArgument()
    {
        using var scope = torch.NewDisposeScope();
        var a = RandomHashes([5], 1);
        Assert.Equal("b", Assert.Throws<ArgumentException>(() => Hamming.Apply(a, RandomHashes([6], 2))).ParamName);
        Assert.Equal("a", Assert.Throws<ArgumentException>(() => Hamming.Apply(a.to(ScalarType.Int32), a)).ParamName);
        Assert.Equal("b", Assert.Throws<ArgumentException>(() => Hamming.Cross(a, RandomHashes([2, 3], 2))).ParamName);
        Assert.Equal("vNeg", Assert.Throws<ArgumentException>(() => IntrinsicImportance.Apply(torch.zeros([3], ScalarType.Int32), torch.zeros([4], ScalarType.Int32))).ParamName);
        Assert.Equal("vPos", Assert.Throws<ArgumentException>(() => IntrinsicImportance.Apply(torch.zeros([3]), torch.zeros([3], ScalarType.Int32))).ParamName);
    }

    [Theory]
    [MemberData(nameof(PHashTestUtil.AllBackends), MemberType = typeof(PHashTestUtil))]
    public void IntrinsicImportance_IsGuardedRatio(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        var vPos = torch.tensor(new[] { 0, 1, 4, 64, 3 });
        var vNeg = torch.tensor(new[] { 7, 0, 10, 64, 1 });
        // TaSP eq. 7 with vPos guarded at 1: hand-computed.
        Assert.Equal([7f, 0f, 2.5f, 1f, 1f / 3f], IntrinsicImportance.Apply(vPos, vNeg, backend).data<float>().ToArray());
        using var g = new Generator(3);
        var p = torch.randint(0, 65, [500], ScalarType.Int32, generator: g);
        var q = torch.randint(0, 65, [500], ScalarType.Int32, generator: g);
        Assert.Equal(IntrinsicImportance.Apply(p, q, Backend.Reference).data<float>().ToArray(), IntrinsicImportance.Apply(p, q, backend).data<float>().ToArray());
    }
}
