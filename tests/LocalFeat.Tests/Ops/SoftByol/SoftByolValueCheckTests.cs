using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;

namespace LocalFeat.Tests.Ops.SoftByol;

/// <summary>
/// SoftByolLoss's NaN check follows <see cref="OpChecks.CheckValues"/> like every op's value checks (on CUDA it would be
/// a host–device wait): switched off, a NaN input gives a NaN loss instead of an exception. Serial: the switch is process-wide.
/// </summary>
[Collection(SerialCollection.Name)]
public class SoftByolValueCheckTests
{
    [Theory]
    [InlineData(Backend.Reference)]
    [InlineData(Backend.Cpu)]
    [InlineData(Backend.Kernel)]
    public void Unchecked_NaN_input_gives_a_NaN_loss(Backend backend)
    {
        using var checks = new ValueChecksScope(ValueChecks.Never);
        using var scope = torch.NewDisposeScope();
        var g = new Generator(5);
        Tensor Rows() => torch.randn([3, 4], generator: g);
        var q = Rows();
        q[1, 2] = float.NaN;
        var s = torch.rand([3], generator: g) + 0.1f;
        var loss = SoftByolLoss.Apply(q, Rows(), Rows(), Rows(), s, s.clone(), 1, 1, ByolLabel.Soft, backend);
        Assert.True(float.IsNaN(loss.item<float>()));
    }
}
