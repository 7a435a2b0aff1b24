using LocalFeat.Torch;
using Xunit;

namespace LocalFeat.Tests.Torch;

public class SmokeTests
{
    [Fact]
    public void AddWorks()
    {
        using var a = torch.tensor(new float[] { 1, 2, 3 });
        using var b = torch.tensor(new float[] { 10, 20, 30 });
        using var c = a + b;
        Assert.Equal(new float[] { 11, 22, 33 }, c.ToArray<float>());
        using var z = torch.zeros(2, 3);
        Assert.Equal(new long[] { 2, 3 }, z.shape);
        using var r = torch.randn([4, 4], new Generator(1));
        Assert.Equal(16, r.numel());
    }
}
