using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace LocalFeat.Ops;

// Fused CPU pHash: per patch, the 32×32 bilinear samples into a stack buffer, 40 butterfly transforms that compute
// only the 8 low coefficients, the median by a sort of 64 and the bits. The float operations and their order are
// those of kernels/phash.cu (fmaf ↔ MathF.FusedMultiplyAdd), so Cpu and Kernel agree bit for bit.
[System.Runtime.CompilerServices.SkipLocalsInit]  // every stack buffer is written before it is read
public static partial class PatchPHash
{
    private const int PatchesPerTask = 64;

    internal static unsafe Tensor CpuForward(Tensor images, Tensor keypoints, float spacing)
    {
        int b = (int)images.size(0), h = (int)images.size(2), w = (int)images.size(3), n = (int)keypoints.size(1);
        var hash = torch.empty([b, n], ScalarType.Int64);
        long total = (long)b * n;
        if (total == 0) return hash;
        byte* u8 = images.dtype == ScalarType.Byte ? HostMemory.Pointer<byte>(images) : null;
        float* f32 = u8 == null ? HostMemory.Pointer<float>(images) : null;
        float* kp = HostMemory.Pointer<float>(keypoints);
        long* output = HostMemory.Pointer<long>(hash);
        long tasks = (total + PatchesPerTask - 1) / PatchesPerTask;
        Parallel.For(0, tasks, task =>
        {
            float* patch = stackalloc float[Side * Side];
            fixed (float* table = Table)
            {
                for (long p = task * PatchesPerTask; p < Math.Min(total, (task + 1) * PatchesPerTask); p++)
                {
                    long plane = p / n * (long)h * w;
                    if (u8 != null) Sample(u8 + plane, h, w, kp[2 * p], kp[2 * p + 1], spacing, patch);
                    else Sample(f32 + plane, h, w, kp[2 * p], kp[2 * p + 1], spacing, patch);
                    output[p] = HashOf(patch, table);
                }
            }
        });
        return hash;
    }

    /// <summary>The bilinear samples of one patch, row-major; lerps with fused multiply-adds as the kernel.</summary>
    private static unsafe void Sample<T>(T* image, int h, int w, float kx, float ky, float spacing, float* patch) where T : unmanaged
    {
        int* ix0 = stackalloc int[Side], ix1 = stackalloc int[Side];
        float* fx = stackalloc float[Side];
        for (int c = 0; c < Side; c++)
        {
            float x = Math.Clamp(kx + Offset(c, spacing), 0f, w - 1);
            float x0 = MathF.Floor(x);
            fx[c] = x - x0;
            ix0[c] = (int)x0;
            ix1[c] = Math.Min(ix0[c] + 1, w - 1);
        }
        for (int r = 0; r < Side; r++)
        {
            float y = Math.Clamp(ky + Offset(r, spacing), 0f, h - 1);
            float y0 = MathF.Floor(y), fy = y - y0;
            int iy0 = (int)y0, iy1 = Math.Min(iy0 + 1, h - 1);
            T* row0 = image + (long)iy0 * w, row1 = image + (long)iy1 * w;
            float* dst = patch + r * Side;
            for (int c = 0; c < Side; c++)
            {
                float p00 = Pixel(row0, ix0[c]), p01 = Pixel(row0, ix1[c]), p10 = Pixel(row1, ix0[c]), p11 = Pixel(row1, ix1[c]);
                float h0 = MathF.FusedMultiplyAdd(fx[c], p01 - p00, p00), h1 = MathF.FusedMultiplyAdd(fx[c], p11 - p10, p10);
                dst[c] = MathF.FusedMultiplyAdd(fy, h1 - h0, h0);
            }
        }
    }

    private static unsafe float Pixel<T>(T* row, int x) where T : unmanaged =>
        typeof(T) == typeof(byte) ? *(byte*)(row + x) : *(float*)(row + x);

    /// <summary>Rows, then the 8 kept columns, then median and bits: kernels/phash.cu's phash_patch.</summary>
    internal static unsafe long HashOf(float* patch, float* table)
    {
        float* rows = stackalloc float[Side * 8];   // [32 rows][8 coefficients]
        for (int r = 0; r < Side; r++) Dct8Of32(patch + r * Side, 1, table, rows + r * 8);
        float* block = stackalloc float[64];        // [8 rows][8 columns]
        float* column = stackalloc float[8];
        for (int k = 0; k < 8; k++)
        {
            Dct8Of32(rows + k, 8, table, column);
            for (int r = 0; r < 8; r++) block[r * 8 + k] = column[r];
        }
        Span<float> sorted = stackalloc float[64];
        new ReadOnlySpan<float>(block, 64).CopyTo(sorted);
        sorted.Sort();
        float median = (sorted[31] + sorted[32]) * 0.5f;
        ulong bits = 0;
        for (int i = 0; i < 64; i++)
            if (block[i] > median) bits |= 1UL << (63 - i);
        return unchecked((long)bits);
    }

    /// <summary>The 8 low DCT-II coefficients of x[0], x[stride], …, x[31·stride]: kernels/phash.cu's dct8_of_32, step by step.</summary>
    internal static unsafe void Dct8Of32(float* x, int stride, float* table, float* y)
    {
        float* u = stackalloc float[16], d = stackalloc float[16];
        for (int n = 0; n < 16; n++)
        {
            float a = x[n * stride], b = x[(31 - n) * stride];
            u[n] = a + b;
            d[n] = a - b;
        }
        float* v = stackalloc float[8], e = stackalloc float[8];
        for (int n = 0; n < 8; n++)
        {
            v[n] = u[n] + u[15 - n];
            e[n] = u[n] - u[15 - n];
        }
        float* wv = stackalloc float[4], f = stackalloc float[4];
        for (int n = 0; n < 4; n++)
        {
            wv[n] = v[n] + v[7 - n];
            f[n] = v[n] - v[7 - n];
        }
        y[0] = 2f * ((wv[0] + wv[1]) + (wv[2] + wv[3]));
        for (int q = 0; q < 4; q++)
        {
            float acc = 0f;
            for (int n = 0; n < 16; n++) acc = MathF.FusedMultiplyAdd(d[n], table[q * 16 + n], acc);
            y[2 * q + 1] = 2f * acc;
        }
        float a2 = 0f, a6 = 0f, a4 = 0f;
        for (int n = 0; n < 8; n++)
        {
            a2 = MathF.FusedMultiplyAdd(e[n], table[64 + n], a2);
            a6 = MathF.FusedMultiplyAdd(e[n], table[72 + n], a6);
        }
        for (int n = 0; n < 4; n++) a4 = MathF.FusedMultiplyAdd(f[n], table[80 + n], a4);
        y[2] = 2f * a2;
        y[4] = 2f * a4;
        y[6] = 2f * a6;
    }
}
