using TorchSharp;
using static TorchSharp.torch;
using Xunit;

namespace LocalFeat.Tests.Torch;

/// <summary>
/// The TorchSharp custom-autograd machinery the ops are built on, on its own: a two-output function with a
/// non-differentiable output, saved tensors and data, and a backward after the forward's dispose scope is gone.
/// </summary>
public class CustomFunctionTests
{
    /// <summary>(argmax over rows as int64, x·w summed per row); gradient of the sum w.r.t. x and w.</summary>
    private sealed class RowDot : autograd.MultiTensorFunction<RowDot>
    {
        public override string Name => nameof(RowDot);

        public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (x, w, scale) = ((Tensor)vars[0], (Tensor)vars[1], (double)vars[2]);
            var index = x.argmax(1);
            var value = x.mv(w).mul(scale);
            ctx.mark_non_differentiable([index]);
            ctx.set_materialize_grads(false);
            ctx.save_for_backward([x, w]);
            ctx.save_data("scale", scale);
            return [index, value];
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> grad_outputs)
        {
            var saved = ctx.get_saved_variables();
            var scale = (double)ctx.get_data("scale");
            var g = grad_outputs[1].mul(scale);
            return [g.unsqueeze(1) * saved[1].unsqueeze(0), saved[0].t().mv(g), null!];
        }
    }

    [Fact]
    public void TwoOutputFunction_GivesAutogradsGradients_AfterItsScopeEnds()
    {
        using var scope = torch.NewDisposeScope();
        var x0 = torch.randn([5, 3], ScalarType.Float64, generator: new Generator(1));
        var w0 = torch.randn([3], ScalarType.Float64, generator: new Generator(2));
        var (x, w) = (x0.clone().requires_grad_(), w0.clone().requires_grad_());
        Tensor loss;
        using (torch.NewDisposeScope())
        {
            var outputs = RowDot.apply(x, w, 0.5);
            Assert.False(outputs[0].requires_grad);
            Assert.True(outputs[1].requires_grad);
            loss = outputs[1].pow(2).sum().MoveToOuterDisposeScope();
        }
        loss.backward();
        var (xr, wr) = (x0.clone().requires_grad_(), w0.clone().requires_grad_());
        xr.mv(wr).mul(0.5).pow(2).sum().backward();
        Assert.True(torch.allclose(xr.grad!, x.grad!), "d/dx");
        Assert.True(torch.allclose(wr.grad!, w.grad!), "d/dw");
    }
}
