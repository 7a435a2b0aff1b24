using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Tests.Ops.SoftByol;

/// <summary>3×3 convolutions 1→8→16→32→64→128 with biases and ReLUs: 10 parameter tensors, 98,240 parameters.</summary>
internal sealed class SmallConvNet : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> conv1, conv2, conv3, conv4, conv5;

    public SmallConvNet() : base(nameof(SmallConvNet))
    {
        conv1 = nn.Conv2d(1, 8, 3, padding: 1);
        conv2 = nn.Conv2d(8, 16, 3, padding: 1);
        conv3 = nn.Conv2d(16, 32, 3, padding: 1);
        conv4 = nn.Conv2d(32, 64, 3, padding: 1);
        conv5 = nn.Conv2d(64, 128, 3, padding: 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        foreach (var c in new[] { conv1, conv2, conv3, conv4 }) x = nn.functional.relu(c.forward(x));
        return conv5.forward(x).MoveToOuterDisposeScope();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            foreach (var c in new[] { conv1, conv2, conv3, conv4, conv5 }) c.Dispose();
        base.Dispose(disposing);
    }
}
