using LocalFeat.Torch;
using LocalFeat.Torch.IO;
using Xunit;

namespace LocalFeat.Tests.Torch;

/// <summary>Bad calls become C# exceptions carrying libtorch's message; the process keeps working.</summary>
public class DispatcherErrorTests
{
    private static void StillWorks()
    {
        using var a = torch.ones(3);
        using var b = a + a;
        Assert.Equal(new float[] { 2, 2, 2 }, b.ToArray<float>());
    }

    [Fact]
    public void UnknownOperator_IsATorchException()
    {
        var e = Assert.Throws<TorchException>(() => Op.Get("aten::no_such_op"));
        Assert.Contains("no operator 'aten::no_such_op'", e.Message);
        e = Assert.Throws<TorchException>(() => Op.Get("aten::add", "NoSuchOverload"));
        Assert.Contains("NoSuchOverload", e.Message);
        StillWorks();
    }

    [Fact]
    public void WrongArgumentTypes_NameTheArgument()
    {
        using var x = torch.ones(2);
        var e = Assert.Throws<TorchException>(() => Op.Get("aten::add", "Tensor").CallTensor(x, "text"));
        Assert.Contains("aten::add.Tensor", e.Message);
        Assert.Contains("argument 'other' expects Tensor, got str", e.Message);
        e = Assert.Throws<TorchException>(() => Op.Get("aten::add", "Tensor").CallTensor(x, x, 1, 2));
        Assert.Contains("takes 3 arguments", e.Message);
        e = Assert.Throws<TorchException>(() => Op.Get("aten::add", "Tensor").CallTensor(x));
        Assert.Contains("missing argument 'other'", e.Message);
        e = Assert.Throws<TorchException>(() => Op.Get("aten::add", "Tensor").CallTensor(x, ((OpArg)x).Named("nope")));
        Assert.Contains("no argument named 'nope'", e.Message);
        StillWorks();
    }

    [Fact]
    public void ShapeMismatch_CarriesLibtorchsMessage()
    {
        using var a = torch.ones(2, 3);
        using var b = torch.ones(2, 3);
        var e = Assert.Throws<TorchException>(() => a.mm(b));
        Assert.Contains("aten::mm", e.Message);
        Assert.Contains("cannot be multiplied", e.Message);
        Assert.DoesNotContain("frame #", e.Message);  // no C++ backtrace in the message
        e = Assert.Throws<TorchException>(() => a.view(4, 2));
        Assert.Contains("shape '[4, 2]' is invalid", e.Message);
        e = Assert.Throws<TorchException>(() => a.to(Device.CUDA(0)));
        StillWorks();
    }

    [Fact]
    public void DisposedTensor_IsAnObjectDisposedException()
    {
        var a = torch.ones(2);
        a.Dispose();
        Assert.Throws<ObjectDisposedException>(() => a + a);
        Assert.Equal("Tensor(disposed)", a.ToString());
        a.Dispose();  // twice is harmless
        StillWorks();
    }

    [Fact]
    public void BackwardOfANonScalarWithoutGradient_IsATorchException()
    {
        using var x = torch.ones([3], requires_grad: true);
        using var y = x * 2;
        var e = Assert.Throws<TorchException>(() => y.backward());
        Assert.Contains("grad can be implicitly created only for scalar outputs", e.Message);
        using var z = torch.ones(3);
        Assert.Throws<TorchException>(() => z.sum().backward());
        StillWorks();
    }

    [Fact]
    public void UnreadableImages_NameTheFile()
    {
        var e = Assert.Throws<TorchException>(() => Image.Read("/nonexistent/photo.png"));
        Assert.Contains("/nonexistent/photo.png", e.Message);
        Assert.Contains("not found", e.Message);
        string corrupt = Path.Combine(Path.GetTempPath(), $"lf-corrupt-{Guid.NewGuid():N}.png");
        File.WriteAllBytes(corrupt, [0x89, 0x50, 0x4E, 0x47, 1, 2, 3, 4, 5]);
        try
        {
            e = Assert.Throws<TorchException>(() => Image.Read(corrupt));
            Assert.Contains("not a readable image", e.Message);
        }
        finally { File.Delete(corrupt); }
        using var floatImage = torch.ones(4, 4);
        e = Assert.Throws<TorchException>(() => Image.Write(Path.Combine(Path.GetTempPath(), "x.png"), floatImage));
        Assert.Contains("must be uint8", e.Message);
        StillWorks();
    }
}
