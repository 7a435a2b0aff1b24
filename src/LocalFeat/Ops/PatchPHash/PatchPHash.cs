using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Ops;

/// <summary>
/// TaSP's intrinsic importance (OPS.md §4): the 64-bit perceptual hash (pHash) of the 32×32 patch centred on each
/// keypoint. For an integer-valued patch sampled at integer positions the hash equals <c>imagehash.phash</c>
/// of that patch bit for bit. No gradients.
/// </summary>
public static partial class PatchPHash
{
    /// <summary>Samples per patch side (imagehash: hash_size 8 × highfreq_factor 4).</summary>
    public const int Side = 32;

    /// <summary>
    /// Returns hash [B, N] int64, coefficient (0, 0) of the 8×8 low DCT block in the most significant bit.
    /// <paramref name="images"/> [B, 1, H, W] uint8 or float32 (0..255); <paramref name="keypoints"/> [B, N, 2] float32 (x, y) in
    /// pixels; samples are spaced <c>patchSize / 32</c> apart and clamped to the image (keypoints outside it included).
    /// </summary>
    public static Tensor Apply(Tensor images, Tensor keypoints, double patchSize = 32, Backend backend = Backend.Auto)
    {
        if (images is null) throw new ArgumentNullException(nameof(images), "expected a uint8 or float32 tensor [B, 1, H, W]");
        if (!images.IsInvalid && images.dtype != ScalarType.Byte && images.dtype != ScalarType.Float32)
            throw new ArgumentException($"argument 'images': expected a uint8 or float32 tensor [B, 1, H, W], got {Validate.Describe(images)}", nameof(images));
        var im = Validate.Tensor(images, nameof(images), images.IsInvalid ? ScalarType.Float32 : images.dtype, 4, "[B, 1, H, W]");
        var kp = Validate.Tensor(keypoints, nameof(keypoints), ScalarType.Float32, 3, "[B, N, 2]");
        Validate.Dim(im[1], 1, nameof(images), "channels");
        if (im[2] < 1 || im[3] < 1) throw new ArgumentException($"argument 'images': expected H, W ≥ 1, got {Validate.Describe(images)}", nameof(images));
        Validate.Dim(kp[0], im[0], nameof(keypoints), "batch B (as images)");
        Validate.Dim(kp[2], 2, nameof(keypoints), "last dimension (x, y)");
        if (!double.IsFinite(patchSize) || patchSize <= 0)
            throw new ArgumentOutOfRangeException(nameof(patchSize), patchSize, "expected a finite patchSize > 0");
        Validate.SameDevice(images, nameof(images), keypoints, nameof(keypoints));
        Validate.Finite(keypoints, nameof(keypoints));  // NaN/Inf keypoints: no patch to hash
        if (images.dtype == ScalarType.Float32) Validate.Finite(images, nameof(images));
        if (im[2] * im[3] > int.MaxValue || kp[1] > int.MaxValue)
            throw new ArgumentException($"argument 'images': expected H·W and N < 2^31, got {Validate.Describe(images)} and {Validate.Describe(keypoints)}", nameof(images));

        if (backend == Backend.Auto) backend = images.is_cuda ? Backend.Kernel : Backend.Cpu;
        float spacing = (float)(patchSize / Side);
        return backend switch
        {
            Backend.Reference => Reference(images, keypoints, spacing),
            Backend.Cpu => CpuForward(Cpu(images), keypoints, spacing),
            Backend.Kernel => KernelForward(images, keypoints, spacing),
            _ => throw new ArgumentOutOfRangeException(nameof(backend), backend, "expected Auto, Reference, Cpu or Kernel"),
        };

        static Tensor Cpu(Tensor t)
        {
            Validate.OnCpu(t, nameof(images), Backend.Cpu);
            return t;
        }
    }

    /// <summary>Sample offset of column (or row) c from the keypoint, in float32 as every backend computes it.</summary>
    internal static float Offset(int c, float spacing) => (c - 15.5f) * spacing;

    /// <summary>
    /// The 84 cosines of the butterfly DCT (kernels/phash.cu, dct8_of_32): [0, 64) cos(πk(2n+1)/64) for k = 1, 3, 5, 7
    /// and n &lt; 16; [64, 72) cos(π(2n+1)/32) and [72, 80) cos(3π(2n+1)/32) for n &lt; 8 (k = 2, 6 of the even half);
    /// [80, 84) cos(π(2n+1)/16) for n &lt; 4 (k = 4). Rounded once from double: one table for Cpu and Kernel.
    /// </summary>
    internal static readonly float[] Table = BuildTable();

    private static float[] BuildTable()
    {
        var t = new float[84];
        for (int q = 0; q < 4; q++)
            for (int n = 0; n < 16; n++) t[q * 16 + n] = (float)Math.Cos(Math.PI * (2 * q + 1) * (2 * n + 1) / 64);
        for (int n = 0; n < 8; n++)
        {
            t[64 + n] = (float)Math.Cos(Math.PI * (2 * n + 1) / 32);
            t[72 + n] = (float)Math.Cos(3 * Math.PI * (2 * n + 1) / 32);
        }
        for (int n = 0; n < 4; n++) t[80 + n] = (float)Math.Cos(Math.PI * (2 * n + 1) / 16);
        return t;
    }
}
