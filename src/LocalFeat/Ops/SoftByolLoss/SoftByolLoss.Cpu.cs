using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace LocalFeat.Ops;

// Fused CPU loss: one pass over the correspondences computes the row dots, e_c, ∂e_c/∂sim and the
// partial sums Σp, Σp·e per fixed block of rows (deterministic: blocks summed in order, in double);
// the backward is one more pass that writes gq, gs1, gs2 from the saved (L, S) and row statistics.
public static partial class SoftByolLoss
{
    /// <summary>Rows per parallel block: fixed, so the partial sums and their order do not depend on the thread count.</summary>
    private const int CpuRowsPerBlock = 256;

    private const float EpsF = (float)Eps;

    internal static unsafe (Tensor stats, Tensor rowStat) CpuForward(Tensor q, Tensor z, Tensor u, Tensor u2, Tensor s1, Tensor s2, float k, ByolLabel mode)
    {
        int c = (int)q.size(0), d = (int)q.size(1);
        var stats = torch.zeros([2]);
        var rowStat = torch.empty([c, 2]);
        if (c == 0) return (stats, rowStat);
        float* qp = HostMemory.Pointer<float>(q), zp = HostMemory.Pointer<float>(z), up = HostMemory.Pointer<float>(u), u2p = HostMemory.Pointer<float>(u2);
        float* s1p = HostMemory.Pointer<float>(s1), s2p = HostMemory.Pointer<float>(s2), rs = HostMemory.Pointer<float>(rowStat);
        bool soft = mode == ByolLabel.Soft;
        int blocks = (c + CpuRowsPerBlock - 1) / CpuRowsPerBlock;
        var partP = new double[blocks];
        var partPE = new double[blocks];
        Parallel.For(0, blocks, b =>
        {
            double sp = 0, spe = 0;
            int end = Math.Min(c, (b + 1) * CpuRowsPerBlock);
            for (int i = b * CpuRowsPerBlock; i < end; i++)
            {
                long off = (long)i * d;
                float sim = Cosine(qp + off, zp + off, d);
                float e, de;
                if (soft)
                {
                    float l = MathF.Exp(-k * (1f - Cosine(up + off, u2p + off, d)));
                    e = (l - sim) * (l - sim);
                    de = -2f * (l - sim);
                }
                else
                {
                    e = 1f - sim;
                    de = -1f;
                }
                rs[2L * i] = e;
                rs[2L * i + 1] = de;
                float p = s1p[i] * s2p[i];
                sp += p;
                spe += (double)p * e;
            }
            partP[b] = sp;
            partPE[b] = spe;
        });
        double total = 0, weighted = 0;
        for (int b = 0; b < blocks; b++)
        {
            total += partP[b];
            weighted += partPE[b];
        }
        float s = (float)total;
        var st = HostMemory.Span<float>(stats);
        st[0] = s == 0f ? 0f : (float)(weighted / total / c);
        st[1] = s;
        return (stats, rowStat);
    }

    private static unsafe float Cosine(float* a, float* b, int d)
    {
        var (aa, bb, ab) = Dots(a, b, d);
        return ab / (MathF.Max(MathF.Sqrt(aa), EpsF) * MathF.Max(MathF.Sqrt(bb), EpsF));
    }

    /// <summary>⟨a,a⟩, ⟨b,b⟩, ⟨a,b⟩ in one read of both rows (8 lanes, then the lanes in order, then the tail).</summary>
    private static unsafe (float aa, float bb, float ab) Dots(float* a, float* b, int d)
    {
        var vaa = Vector256<float>.Zero;
        var vbb = Vector256<float>.Zero;
        var vab = Vector256<float>.Zero;
        int j = 0;
        for (; j + 8 <= d; j += 8)
        {
            var x = Vector256.Load(a + j);
            var y = Vector256.Load(b + j);
            vaa += x * x;
            vbb += y * y;
            vab += x * y;
        }
        float aa = Vector256.Sum(vaa), bb = Vector256.Sum(vbb), ab = Vector256.Sum(vab);
        for (; j < d; j++)
        {
            aa += a[j] * a[j];
            bb += b[j] * b[j];
            ab += a[j] * b[j];
        }
        return (aa, bb, ab);
    }

    internal static unsafe (Tensor gq, Tensor gs1, Tensor gs2) CpuBackward(Tensor q, Tensor z, Tensor s1, Tensor s2, Tensor rowStat, Tensor stats, Tensor gradOutput)
    {
        int c = (int)q.size(0), d = (int)q.size(1);
        var st = HostMemory.Span<float>(stats);
        float loss = st[0], s = st[1], g = gradOutput.item<float>();
        if (c == 0 || s == 0f) return (torch.zeros([c, d]), torch.zeros([c]), torch.zeros([c]));
        var gq = torch.empty([c, d]);  // every row written below
        var gs1 = torch.empty([c]);
        var gs2 = torch.empty([c]);
        float* qp = HostMemory.Pointer<float>(q), zp = HostMemory.Pointer<float>(z), s1p = HostMemory.Pointer<float>(s1), s2p = HostMemory.Pointer<float>(s2);
        float* rs = HostMemory.Pointer<float>(rowStat), gqp = HostMemory.Pointer<float>(gq), g1 = HostMemory.Pointer<float>(gs1), g2 = HostMemory.Pointer<float>(gs2);
        int blocks = (c + CpuRowsPerBlock - 1) / CpuRowsPerBlock;
        Parallel.For(0, blocks, b =>
        {
            int end = Math.Min(c, (b + 1) * CpuRowsPerBlock);
            for (int i = b * CpuRowsPerBlock; i < end; i++)
            {
                long off = (long)i * d;
                var (qq, zz, qz) = Dots(qp + off, zp + off, d);
                float nqRaw = MathF.Sqrt(qq);
                float nq = MathF.Max(nqRaw, EpsF), nz = MathF.Max(MathF.Sqrt(zz), EpsF);
                float sim = qz / (nq * nz);
                float e = rs[2L * i], de = rs[2L * i + 1], a1 = s1p[i], a2 = s2p[i];
                // ∂sim/∂q = (ẑ − sim·q̂)/‖q‖; where the eps clamp holds the norm is constant: ẑ/eps.
                float gamma = g * (a1 * a2) * de / (c * s);
                float cz = gamma / (nq * nz);
                float cq = nqRaw > EpsF ? gamma * sim / (nq * nq) : 0f;
                var row = new Span<float>(gqp + off, d);
                TensorPrimitives.Multiply(new ReadOnlySpan<float>(zp + off, d), cz, row);
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(qp + off, d), -cq, row, row);
                float gp = g * (e / c - loss) / s;
                g1[i] = gp * a2;
                g2[i] = gp * a1;
            }
        });
        return (gq, gs1, gs2);
    }
}
