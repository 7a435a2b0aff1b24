using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LocalFeat.Train.Data;

/// <summary>
/// The photometric change every training crop gets (homography pairs and scene pairs alike): contrast and brightness,
/// an optional Gaussian blur, Gaussian noise, clamped to [0,1]. Every draw comes from the caller's generator and seed.
/// </summary>
public sealed class PhotometricAugmentation(PairSettings settings)
{
    /// <param name="crop">grey [1,1,H,W] in [0,1].</param>
    /// <returns>[1,H,W] in [0,1].</returns>
    public Tensor Apply(Tensor crop, Random rng, ulong noiseSeed)
    {
        var st = settings;
        double contrast = 1 + U(rng, -st.Contrast, st.Contrast), brightness = U(rng, -st.Brightness, st.Brightness);
        bool blur = rng.NextDouble() < st.BlurProb;
        double sigma = U(rng, 0.5, 1.5), noise = U(rng, 0, st.NoiseStd);
        var mean = crop.mean();
        var x = (crop - mean) * contrast + mean + brightness;
        if (blur) x = Blur(x, sigma);
        if (noise > 0)
        {
            using var gen = new Generator(noiseSeed);
            x = x + torch.randn(x.shape, generator: gen) * noise;
        }
        return x.clamp(0, 1).view(1, crop.size(2), crop.size(3)).contiguous();
    }

    private static Tensor Blur(Tensor x, double sigma)
    {
        const int r = 3;
        var k = Enumerable.Range(-r, 2 * r + 1).Select(i => Math.Exp(-i * i / (2 * sigma * sigma))).ToArray();
        double sum = k.Sum();
        var kernel = torch.tensor(k.Select(v => (float)(v / sum)).ToArray());
        var padded = F.pad(x, new long[] { r, r, r, r }, PaddingModes.Replicate);
        var h = F.conv2d(padded, kernel.view(1, 1, 1, 2 * r + 1));
        return F.conv2d(h, kernel.view(1, 1, 2 * r + 1, 1));
    }

    public static double U(Random rng, double lo, double hi) => lo + (hi - lo) * rng.NextDouble();
}
