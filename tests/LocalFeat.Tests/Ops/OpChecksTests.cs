using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;

namespace LocalFeat.Tests.Ops;

/// <summary>
/// <see cref="OpChecks.CheckValues"/>: value checks (which end in a host–device wait on CUDA) run by default on CPU
/// tensors only. Serial: the switch is process-wide.
/// </summary>
[Collection(SerialCollection.Name)]
public class OpChecksTests
{
    private static Tensor WithNaN(Tensor t)
    {
        var copy = t.clone();
        copy[1].fill_(double.NaN);
        return copy;
    }

    [Fact]
    public void Default_ChecksCpuTensorsOnly()
    {
        Assert.Equal(ValueChecks.CpuOnly, OpChecks.CheckValues);
        using var scope = torch.NewDisposeScope();
        Assert.True(OpChecks.ChecksValuesOf(torch.zeros(1)));
    }

    [Theory]
    [InlineData(ValueChecks.CpuOnly)]
    [InlineData(ValueChecks.Always)]
    public void Checked_NaNDescriptorsAndBadPositions_AreRejected(ValueChecks setting)
    {
        using var checks = new ValueChecksScope(setting);
        using var scope = torch.NewDisposeScope();
        var a = torch.randn([4, 3], generator: new Generator(1));
        var c = torch.randn([5, 3], generator: new Generator(2));
        var e = Assert.Throws<ArgumentException>(() => HardestNegatives.Apply(WithNaN(a), c, torch.zeros(4, 2), torch.zeros(5, 2), 1, SafeWindow.Square, Backend.Cpu));
        Assert.Equal("anchors", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => InBatchHardestNegatives.Apply(a, WithNaN(a), torch.zeros([4], ScalarType.Int64), 1, NegativeScope.AllButSelf, Backend.Cpu));
        Assert.Equal("positives", e.ParamName);
        var f = torch.randn([2, 4, 5]);
        var s = torch.rand([4, 5]);
        e = Assert.Throws<ArgumentException>(() => D2NetLoss.Apply(f, s, f, s, torch.tensor(new long[] { 9, 0 }, [1, 2]), torch.zeros(1, 2)));
        Assert.Equal("cells1", e.ParamName);
    }

    [Theory]
    [MemberData(nameof(OpAssert.FastBackends), MemberType = typeof(OpAssert))]
    public void Unchecked_NaNDescriptors_GiveAResultOfTheDocumentedShape_OnEveryBackend(Backend backend)
    {
        using var checks = new ValueChecksScope(ValueChecks.Never);
        Assert.False(OpChecks.ChecksValuesOf(torch.zeros(1)));
        using var scope = torch.NewDisposeScope();
        var a = WithNaN(torch.randn([4, 3], generator: new Generator(3)));
        var c = torch.randn([5, 3], generator: new Generator(4));
        var (index, distance) = HardestNegatives.Apply(a, c, torch.zeros(4, 2), torch.full([5, 2], 9.0), 1, SafeWindow.Square, backend);
        Assert.Equal(new long[] { 4 }, index.shape);
        Assert.All(index.data<long>().ToArray(), v => Assert.InRange(v, -1, 4));
        Assert.Equal(new long[] { 4 }, distance.shape);
        var (ib, sb) = InBatchHardestNegatives.Apply(a, c.narrow(0, 0, 4).contiguous(), torch.arange(4).@long(), 2, NegativeScope.AllButSelf, backend);
        Assert.Equal(new long[] { 4, 2 }, ib.shape);
        Assert.All(ib.data<long>().ToArray(), v => Assert.InRange(v, -1, 3));
        Assert.Equal(new long[] { 4, 2 }, sb.shape);
    }

    [TorchCudaFact]
    public void Default_LeavesCudaTensorValuesUnchecked_AndAlwaysChecksThem()
    {
        using var scope = torch.NewDisposeScope();
        var cuda = new Device(DeviceType.CUDA, 0);
        var a = WithNaN(torch.randn([4, 3], generator: new Generator(5))).to(cuda);
        var c = torch.randn([5, 3], generator: new Generator(6)).to(cuda);
        var (ap, cp) = (torch.zeros(4, 2).to(cuda), torch.full([5, 2], 9.0).to(cuda));
        Assert.False(OpChecks.ChecksValuesOf(a));
        var (index, _) = HardestNegatives.Apply(a, c, ap, cp, 1, SafeWindow.Square, Backend.Kernel);  // no device wait, no throw
        Assert.Equal(new long[] { 4 }, index.shape);
        using var checks = new ValueChecksScope(ValueChecks.Always);
        Assert.Equal("anchors", Assert.Throws<ArgumentException>(() => HardestNegatives.Apply(a, c, ap, cp, 1, SafeWindow.Square, Backend.Kernel)).ParamName);
    }
}
