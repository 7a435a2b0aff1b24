using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace LocalFeat.Ops;

// Fused CPU pHash: per patch, the 32×32 bilinear samples into a stack buffer, 40 butterfly transforms that compute
// only the 8 low coefficients, the median of the 64 and the bits. The float operations and their order are those of
// kernels/phash.cu (fmaf ↔ MathF.FusedMultiplyAdd / Fma.MultiplyAdd), so Cpu and Kernel agree bit for bit. Two paths:
// AVX2 + FMA (HashVector: the same per-element operations, 8 rows or columns per Vector256) and the scalar one
// (Sample + HashOf) for other hardware and W = 1.
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
        if (VectorPath(w))
        {
            Parallel.For(0, tasks, task =>
            {
                float* scratch = stackalloc float[ScratchFloats];
                int* iscratch = stackalloc int[6 * Side];
                fixed (float* table = Table)
                {
                    for (long p = task * PatchesPerTask; p < Math.Min(total, (task + 1) * PatchesPerTask); p++)
                    {
                        long plane = p / n * (long)h * w;
                        output[p] = u8 != null
                            ? HashVector(u8 + plane, h, w, kp[2 * p], kp[2 * p + 1], spacing, table, scratch, iscratch)
                            : HashVector(f32 + plane, h, w, kp[2 * p], kp[2 * p + 1], spacing, table, scratch, iscratch);
                    }
                }
            });
            return hash;
        }
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
    // ------------------------------------------------------------------------------------ AVX2 + FMA path
    // The same float operations as the scalar path (and kernels/phash.cu), eight patches' rows or columns at a time:
    // every lane of a Vector256 runs the scalar sequence of one row (or column), in the same order, with
    // Fma.MultiplyAdd for fmaf. Only the data layout differs: the patch is sampled column-major (patchT[c·32 + r]) so
    // that lanes = rows for the row transform; its 8 outputs are transposed to [row][k] so that lanes = k for the
    // column transform.

    /// <summary>Per-task scratch of the vector path (floats): patchT 1024, rows 256, block 64, tmp 64, u 16·8, v 8·8, pixel pairs 2·1024 ushorts.</summary>
    private const int ScratchFloats = 1024 + 256 + 64 + 64 + 128 + 64 + 1024;

    private static bool VectorPath(int w) => Avx2.IsSupported && Fma.IsSupported && w >= 2;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe long HashVector<T>(T* image, int h, int w, float kx, float ky, float spacing, float* table,
                                             float* scratch, int* iscratch) where T : unmanaged
    {
        float* patchT = scratch, rows = patchT + 1024, block = rows + 256, tmp = block + 64, u = tmp + 64, v = u + 128;
        int* off0 = iscratch, off1 = off0 + Side, ix0 = off1 + Side, ix1 = ix0 + Side;
        float* fy = (float*)(ix1 + Side), fx = fy + Side;
        // Positions 8 at a time, as Offset and the scalar path: (i − 15.5f)·s + k, clamped (min/max: no NaN, and x
        // is never −0 since the offset is never 0), floor, fraction, truncation, the +1 neighbour clamped.
        {
            Vector256<float> sv = Vector256.Create(spacing), kxv = Vector256.Create(kx), kyv = Vector256.Create(ky), half = Vector256.Create(15.5f);
            Vector256<float> xMax = Vector256.Create((float)(w - 1)), yMax = Vector256.Create((float)(h - 1));
            Vector256<int> wLast = Vector256.Create(w - 1), hLast = Vector256.Create(h - 1), width = Vector256.Create(w), one = Vector256.Create(1);
            var iota = Vector256.Create(0f, 1f, 2f, 3f, 4f, 5f, 6f, 7f);
            for (int i = 0; i < Side; i += 8)
            {
                var o = (iota + Vector256.Create((float)i) - half) * sv;
                var y = Avx.Min(Avx.Max(kyv + o, Vector256<float>.Zero), yMax);
                var y0 = Avx.RoundToNegativeInfinity(y);
                Avx.Store(fy + i, y - y0);
                var iy0 = Avx.ConvertToVector256Int32WithTruncation(y0);
                Avx.Store(off0 + i, Avx2.MultiplyLow(iy0, width));
                Avx.Store(off1 + i, Avx2.MultiplyLow(Avx2.Min(iy0 + one, hLast), width));
                var x = Avx.Min(Avx.Max(kxv + o, Vector256<float>.Zero), xMax);
                var x0 = Avx.RoundToNegativeInfinity(x);
                Avx.Store(fx + i, x - x0);
                var jx0 = Avx.ConvertToVector256Int32WithTruncation(x0);
                Avx.Store(ix0 + i, jx0);
                Avx.Store(ix1 + i, Avx2.Min(jx0 + one, wLast));
            }
        }

        bool contiguous = ix1[Side - 1] == ix0[Side - 1] + 1;  // then ix1[c] = ix0[c] + 1 for every c (x is monotone)
        for (int c = 1; c < Side; c++) contiguous &= ix0[c] == ix0[0] + c;
        if (contiguous)
        {
            // Contiguous columns (spacing 1, no clamping in x): each row's 33 pixels by vector loads, lanes = columns,
            // into a row-major patch, then transposed to patchT. The same arithmetic per sample, with fx by lane and
            // fy broadcast.
            float* patch = v + 64;  // the pixel-pair room, as 1024 floats
            int x0 = ix0[0];
            for (int r = 0; r < Side; r++)
            {
                T* row0 = image + off0[r] + x0, row1 = image + off1[r] + x0;
                var fyr = Vector256.Create(fy[r]);
                float* dst = patch + r * Side;
                for (int c = 0; c < Side; c += 8)
                {
                    Vector256<float> p00 = Load(row0 + c), p01 = Load(row0 + c + 1), p10 = Load(row1 + c), p11 = Load(row1 + c + 1);
                    var fxc = Avx.LoadVector256(fx + c);
                    var h0 = Fma.MultiplyAdd(fxc, p01 - p00, p00);
                    var h1 = Fma.MultiplyAdd(fxc, p11 - p10, p10);
                    Avx.Store(dst + c, Fma.MultiplyAdd(fyr, h1 - h0, h0));
                }
            }
            for (int rb = 0; rb < Side; rb += 8)
                for (int cb = 0; cb < Side; cb += 8) Transpose8x8(patch + rb * Side + cb, Side, patchT + cb * Side + rb, Side);
        }
        else if (typeof(T) == typeof(byte))
        {
            // Pixel pairs: the 16-bit load at min(ix0, W − 2) holds (ix0, ix0 + 1), or at the right border (ix0 = W − 1)
            // (W − 2, W − 1): p00 = pair >> shift (0, or 8 at the border), p01 = pair >> 8. All pairs first, then the
            // arithmetic, so that no vector load waits on the scalar stores just before it.
            ushort* pair0 = (ushort*)(v + 64), pair1 = pair0 + Side * Side;  // [c][r], 2 × 2 KB
            int* at = (int*)tmp, shift = at + Side;
            for (int c = 0; c < Side; c++)
            {
                at[c] = Math.Min(ix0[c], w - 2);
                shift[c] = ix0[c] == w - 1 ? 8 : 0;
            }
            for (int r = 0; r < Side; r++)
            {
                byte* row0 = (byte*)image + off0[r], row1 = (byte*)image + off1[r];
                ushort* d0 = pair0 + r, d1 = pair1 + r;
                for (int c = 0; c < Side; c += 4, d0 += 4 * Side, d1 += 4 * Side)
                {
                    int a0 = at[c], a1 = at[c + 1], a2 = at[c + 2], a3 = at[c + 3];
                    d0[0] = *(ushort*)(row0 + a0);
                    d1[0] = *(ushort*)(row1 + a0);
                    d0[Side] = *(ushort*)(row0 + a1);
                    d1[Side] = *(ushort*)(row1 + a1);
                    d0[2 * Side] = *(ushort*)(row0 + a2);
                    d1[2 * Side] = *(ushort*)(row1 + a2);
                    d0[3 * Side] = *(ushort*)(row0 + a3);
                    d1[3 * Side] = *(ushort*)(row1 + a3);
                }
            }
            var low = Vector256.Create(0xFF);
            for (int c = 0; c < Side; c++)
            {
                var fxc = Vector256.Create(fx[c]);
                var s0 = Vector128.CreateScalar((long)shift[c]);
                float* dst = patchT + c * Side;
                for (int r = 0; r < Side; r += 8)
                {
                    var q0 = Avx2.ConvertToVector256Int32(pair0 + c * Side + r);
                    var q1 = Avx2.ConvertToVector256Int32(pair1 + c * Side + r);
                    var p00 = Avx.ConvertToVector256Single(Avx2.ShiftRightLogical(q0, s0.AsInt32()) & low);
                    var p01 = Avx.ConvertToVector256Single(Avx2.ShiftRightLogical(q0, 8));
                    var p10 = Avx.ConvertToVector256Single(Avx2.ShiftRightLogical(q1, s0.AsInt32()) & low);
                    var p11 = Avx.ConvertToVector256Single(Avx2.ShiftRightLogical(q1, 8));
                    var h0 = Fma.MultiplyAdd(fxc, p01 - p00, p00);
                    var h1 = Fma.MultiplyAdd(fxc, p11 - p10, p10);
                    Avx.Store(dst + r, Fma.MultiplyAdd(Avx.LoadVector256(fy + r), h1 - h0, h0));
                }
            }
        }
        else
        {
            float* img = (float*)image;
            for (int c = 0; c < Side; c++)
            {
                var fxc = Vector256.Create(fx[c]);
                var i0 = Vector256.Create(ix0[c]);
                var i1 = Vector256.Create(ix1[c]);
                float* dst = patchT + c * Side;
                for (int r = 0; r < Side; r += 8)
                {
                    var o0 = Avx.LoadVector256(off0 + r);
                    var o1 = Avx.LoadVector256(off1 + r);
                    var p00 = Avx2.GatherVector256(img, o0 + i0, 4);
                    var p01 = Avx2.GatherVector256(img, o0 + i1, 4);
                    var p10 = Avx2.GatherVector256(img, o1 + i0, 4);
                    var p11 = Avx2.GatherVector256(img, o1 + i1, 4);
                    var h0 = Fma.MultiplyAdd(fxc, p01 - p00, p00);
                    var h1 = Fma.MultiplyAdd(fxc, p11 - p10, p10);
                    Avx.Store(dst + r, Fma.MultiplyAdd(Avx.LoadVector256(fy + r), h1 - h0, h0));
                }
            }
        }

        // Rows: lanes = 8 rows, inputs patchT[n·32 + r]; outputs [k][8 rows] into tmp, transposed into rows[r·8 + k].
        for (int g = 0; g < Side; g += 8)
        {
            Dct8Of32x8(patchT + g, Side, table, u, v, tmp);
            Transpose8x8(tmp, 8, rows + g * 8, 8);
        }
        // Columns: lanes = the 8 kept columns k, inputs rows[n·8 + k]; output m is block row m: block[m·8 + k].
        Dct8Of32x8(rows, 8, table, u, v, block);

        float median = Median(block);
        ulong bits = 0;
        var med = Vector256.Create(median);
        for (int i = 0; i < 8; i++)
            bits |= (ulong)Vector256.GreaterThan(Avx.LoadVector256(block + 8 * i), med).ExtractMostSignificantBits() << (8 * i);
        return unchecked((long)ReverseBits(bits));  // coefficient i at bit 63 − i
    }

    /// <summary>
    /// Dct8Of32 on 8 lanes at once: input n of lane j at x[n·stride + j], output k of lane j to y[k·8 + j]. Per lane
    /// the scalar sequence: the same sums and differences, each fma chain in the same order (n ascending from 0).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Dct8Of32x8(float* x, int stride, float* table, float* u, float* v, float* y)
    {
        // Odd k = 1, 3, 5, 7 from d[n] = x[n] − x[31−n]; u[n] = x[n] + x[31−n] kept for the even half.
        Vector256<float> a1 = Vector256<float>.Zero, a3 = a1, a5 = a1, a7 = a1;
        for (int n = 0; n < 16; n++)
        {
            var a = Avx.LoadVector256(x + n * stride);
            var b = Avx.LoadVector256(x + (31 - n) * stride);
            Avx.Store(u + 8 * n, a + b);
            var d = a - b;
            a1 = Fma.MultiplyAdd(d, Vector256.Create(table[n]), a1);
            a3 = Fma.MultiplyAdd(d, Vector256.Create(table[16 + n]), a3);
            a5 = Fma.MultiplyAdd(d, Vector256.Create(table[32 + n]), a5);
            a7 = Fma.MultiplyAdd(d, Vector256.Create(table[48 + n]), a7);
        }
        var two = Vector256.Create(2f);
        Avx.Store(y + 8, two * a1);
        Avx.Store(y + 24, two * a3);
        Avx.Store(y + 40, two * a5);
        Avx.Store(y + 56, two * a7);
        Vector256<float> a2 = Vector256<float>.Zero, a6 = a2, a4 = a2;
        for (int n = 0; n < 8; n++)
        {
            var a = Avx.LoadVector256(u + 8 * n);
            var b = Avx.LoadVector256(u + 8 * (15 - n));
            Avx.Store(v + 8 * n, a + b);
            var e = a - b;
            a2 = Fma.MultiplyAdd(e, Vector256.Create(table[64 + n]), a2);
            a6 = Fma.MultiplyAdd(e, Vector256.Create(table[72 + n]), a6);
        }
        var w0 = Avx.LoadVector256(v) + Avx.LoadVector256(v + 56);
        var w1 = Avx.LoadVector256(v + 8) + Avx.LoadVector256(v + 48);
        var w2 = Avx.LoadVector256(v + 16) + Avx.LoadVector256(v + 40);
        var w3 = Avx.LoadVector256(v + 24) + Avx.LoadVector256(v + 32);
        a4 = Fma.MultiplyAdd(Avx.LoadVector256(v) - Avx.LoadVector256(v + 56), Vector256.Create(table[80]), a4);
        a4 = Fma.MultiplyAdd(Avx.LoadVector256(v + 8) - Avx.LoadVector256(v + 48), Vector256.Create(table[81]), a4);
        a4 = Fma.MultiplyAdd(Avx.LoadVector256(v + 16) - Avx.LoadVector256(v + 40), Vector256.Create(table[82]), a4);
        a4 = Fma.MultiplyAdd(Avx.LoadVector256(v + 24) - Avx.LoadVector256(v + 32), Vector256.Create(table[83]), a4);
        Avx.Store(y, two * ((w0 + w1) + (w2 + w3)));
        Avx.Store(y + 16, two * a2);
        Avx.Store(y + 32, two * a4);
        Avx.Store(y + 48, two * a6);
    }

    /// <summary>
    /// (32nd + 33rd smallest) · 0.5 of the 64 finite coefficients, without a sort: with lt(x) = #{j : c_j &lt; x}, the
    /// k-th smallest (from 0) is max{c_i : lt(c_i) ≤ k}. The same values as the scalar path's sort (a zero's sign aside,
    /// which no comparison with the median sees), then the same sum and product.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe float Median(float* block)
    {
        var m31 = Vector256.Create(float.NegativeInfinity);
        var m32 = m31;
        var k31 = Vector256.Create(31);
        var k32 = Vector256.Create(32);
        for (int half = 0; half < 64; half += 32)
        {
            var x0 = Avx.LoadVector256(block + half);
            var x1 = Avx.LoadVector256(block + half + 8);
            var x2 = Avx.LoadVector256(block + half + 16);
            var x3 = Avx.LoadVector256(block + half + 24);
            Vector256<int> l0 = Vector256<int>.Zero, l1 = l0, l2 = l0, l3 = l0;
            for (int j = 0; j < 64; j++)
            {
                var c = Vector256.Create(block[j]);  // lanes where c < x: all ones (−1)
                l0 -= Avx.CompareLessThan(c, x0).AsInt32();
                l1 -= Avx.CompareLessThan(c, x1).AsInt32();
                l2 -= Avx.CompareLessThan(c, x2).AsInt32();
                l3 -= Avx.CompareLessThan(c, x3).AsInt32();
            }
            m31 = Avx.Max(m31, Select(Avx2.CompareGreaterThan(l0, k31), x0));
            m31 = Avx.Max(m31, Select(Avx2.CompareGreaterThan(l1, k31), x1));
            m31 = Avx.Max(m31, Select(Avx2.CompareGreaterThan(l2, k31), x2));
            m31 = Avx.Max(m31, Select(Avx2.CompareGreaterThan(l3, k31), x3));
            m32 = Avx.Max(m32, Select(Avx2.CompareGreaterThan(l0, k32), x0));
            m32 = Avx.Max(m32, Select(Avx2.CompareGreaterThan(l1, k32), x1));
            m32 = Avx.Max(m32, Select(Avx2.CompareGreaterThan(l2, k32), x2));
            m32 = Avx.Max(m32, Select(Avx2.CompareGreaterThan(l3, k32), x3));
        }
        return (MaxLane(m31) + MaxLane(m32)) * 0.5f;

        // x where lt ≤ k (the mask is lt > k), −∞ elsewhere.
        static Vector256<float> Select(Vector256<int> above, Vector256<float> x) =>
            Avx.BlendVariable(x, Vector256.Create(float.NegativeInfinity), above.AsSingle());

        static float MaxLane(Vector256<float> v)
        {
            var m = Sse.Max(v.GetLower(), v.GetUpper());
            m = Sse.Max(m, Sse.Shuffle(m, m, 0b01_00_11_10));
            m = Sse.Max(m, Sse.Shuffle(m, m, 0b10_11_00_01));
            return m.ToScalar();
        }
    }

    private static unsafe Vector256<float> Load<T>(T* p) where T : unmanaged =>
        typeof(T) == typeof(byte) ? Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32((byte*)p)) : Avx.LoadVector256((float*)p);

    /// <summary>dst[j·ds + k] = src[k·ss + j] for j, k &lt; 8: data movement only.</summary>
    private static unsafe void Transpose8x8(float* src, int ss, float* dst, int ds)
    {
        Vector256<float> r0 = Avx.LoadVector256(src), r1 = Avx.LoadVector256(src + ss), r2 = Avx.LoadVector256(src + 2 * ss),
            r3 = Avx.LoadVector256(src + 3 * ss), r4 = Avx.LoadVector256(src + 4 * ss), r5 = Avx.LoadVector256(src + 5 * ss),
            r6 = Avx.LoadVector256(src + 6 * ss), r7 = Avx.LoadVector256(src + 7 * ss);
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1), t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3),
            t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5), t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> s0 = Avx.Shuffle(t0, t2, 0x44), s1 = Avx.Shuffle(t0, t2, 0xEE), s2 = Avx.Shuffle(t1, t3, 0x44), s3 = Avx.Shuffle(t1, t3, 0xEE),
            s4 = Avx.Shuffle(t4, t6, 0x44), s5 = Avx.Shuffle(t4, t6, 0xEE), s6 = Avx.Shuffle(t5, t7, 0x44), s7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(s0, s4, 0x20));
        Avx.Store(dst + 1 * ds, Avx.Permute2x128(s1, s5, 0x20));
        Avx.Store(dst + 2 * ds, Avx.Permute2x128(s2, s6, 0x20));
        Avx.Store(dst + 3 * ds, Avx.Permute2x128(s3, s7, 0x20));
        Avx.Store(dst + 4 * ds, Avx.Permute2x128(s0, s4, 0x31));
        Avx.Store(dst + 5 * ds, Avx.Permute2x128(s1, s5, 0x31));
        Avx.Store(dst + 6 * ds, Avx.Permute2x128(s2, s6, 0x31));
        Avx.Store(dst + 7 * ds, Avx.Permute2x128(s3, s7, 0x31));
    }

    private static ulong ReverseBits(ulong x)
    {
        x = ((x >> 1) & 0x5555555555555555UL) | ((x & 0x5555555555555555UL) << 1);
        x = ((x >> 2) & 0x3333333333333333UL) | ((x & 0x3333333333333333UL) << 2);
        x = ((x >> 4) & 0x0F0F0F0F0F0F0F0FUL) | ((x & 0x0F0F0F0F0F0F0F0FUL) << 4);
        return System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(x);
    }
}
