using System.Diagnostics;
using System.Text.Json;
using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;

namespace LocalFeat.Tests.Ops;

public class D2NetLossTests
{
    public static TheoryData<Backend> AllBackends => new() { Backend.Reference, Backend.Cpu, Backend.Kernel };

    /// <summary>
    /// The loss of mihaidusmanu/d2-net lib/loss.py (per pair, positions already in feature cells), transcribed
    /// for python3-torch: the independent oracle. Reads the inputs as JSON, prints loss and gradients.
    /// </summary>
    private const string D2NetPython = """
        import json, sys, torch, torch.nn.functional as F
        d = json.load(sys.stdin)
        t = lambda k: torch.tensor(d[k], dtype=torch.float64).view(d[k + '_shape'])
        f1, f2, s1, s2 = t('f1'), t('f2'), t('s1'), t('s2')
        for x in (f1, f2, s1, s2): x.requires_grad_()
        cells1 = torch.tensor(d['cells1']).view(-1, 2).t()          # [2, N]
        fmap_pos2 = torch.tensor(d['pos2'], dtype=torch.float64).view(-1, 2).t()
        margin, safe_radius = 1.0, 4
        def grid_positions(h, w):
            rows = torch.arange(0, h).view(-1, 1).float().repeat(1, w)
            cols = torch.arange(0, w).view(1, -1).float().repeat(h, 1)
            return torch.cat([rows.view(1, -1), cols.view(1, -1)], dim=0).double()
        def interpolate_dense_features(pos, dense):
            _, h, w = dense.size()
            i, j = pos[0, :], pos[1, :]
            i_tl, j_tl = torch.floor(i).long(), torch.floor(j).long()
            i_tr, j_tr = torch.floor(i).long(), torch.ceil(j).long()
            i_bl, j_bl = torch.ceil(i).long(), torch.floor(j).long()
            i_br, j_br = torch.ceil(i).long(), torch.ceil(j).long()
            di, dj = i - i_tl.double(), j - j_tl.double()
            return ((1 - di) * (1 - dj) * dense[:, i_tl, j_tl] + (1 - di) * dj * dense[:, i_tr, j_tr]
                    + di * (1 - dj) * dense[:, i_bl, j_bl] + di * dj * dense[:, i_br, j_br])
        c, h1, w1 = f1.size()
        _, h2, w2 = f2.size()
        ids = cells1[0] * w1 + cells1[1]
        all_descriptors1 = F.normalize(f1.view(c, -1), dim=0)
        descriptors1 = all_descriptors1[:, ids]
        descriptors2 = F.normalize(interpolate_dense_features(fmap_pos2, f2), dim=0)
        all_descriptors2 = F.normalize(f2.view(c, -1), dim=0)
        positive_distance = 2 - 2 * (descriptors1.t().unsqueeze(1) @ descriptors2.t().unsqueeze(2)).squeeze()
        all_fmap_pos2 = grid_positions(h2, w2)
        position_distance = torch.max(torch.abs(fmap_pos2.unsqueeze(2) - all_fmap_pos2.unsqueeze(1)), dim=0)[0]
        is_out_of_safe_radius = position_distance > safe_radius
        distance_matrix = 2 - 2 * (descriptors1.t() @ all_descriptors2)
        negative_distance2 = torch.min(distance_matrix + (1 - is_out_of_safe_radius.double()) * 10., dim=1)[0]
        all_fmap_pos1 = grid_positions(h1, w1)
        position_distance = torch.max(torch.abs(cells1.double().unsqueeze(2) - all_fmap_pos1.unsqueeze(1)), dim=0)[0]
        is_out_of_safe_radius = position_distance > safe_radius
        distance_matrix = 2 - 2 * (descriptors2.t() @ all_descriptors1)
        negative_distance1 = torch.min(distance_matrix + (1 - is_out_of_safe_radius.double()) * 10., dim=1)[0]
        diff = positive_distance - torch.min(negative_distance1, negative_distance2)
        sc1 = s1.view(-1)[ids]
        sc2 = interpolate_dense_features(fmap_pos2, s2.unsqueeze(0)).squeeze(0)
        loss = torch.sum(sc1 * sc2 * F.relu(margin + diff)) / torch.sum(sc1 * sc2)
        loss.backward()
        print(json.dumps({'loss': loss.item(), 'f1': f1.grad.view(-1).tolist(), 'f2': f2.grad.view(-1).tolist(),
                          's1': s1.grad.view(-1).tolist(), 's2': s2.grad.view(-1).tolist()}))
        """;

    // 10×11 maps: every cell has candidates at Chebyshev distance ≥ 5, so the +10 of D2-Net never decides.
    private static (Tensor f1, Tensor s1, Tensor f2, Tensor s2, Tensor cells1, Tensor pos2) Pair(ulong seed)
    {
        using var g = new Generator(seed);
        var f1 = torch.randn([6, 10, 11], generator: g);
        var f2 = torch.randn([6, 10, 11], generator: g);
        var s1 = torch.rand([10, 11], generator: g).add(0.1);
        var s2 = torch.rand([10, 11], generator: g).add(0.1);
        var cells1 = torch.stack([torch.randint(0, 10, [15], generator: g), torch.randint(0, 11, [15], generator: g)], 1);
        var pos2 = torch.stack([torch.rand([15], generator: g).mul(9), torch.rand([15], generator: g).mul(10)], 1);
        return (f1, s1, f2, s2, cells1, pos2);
    }

    [Theory]
    [MemberData(nameof(AllBackends))]
    public void LossAndGradients_MatchTheD2NetCode(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        var (f1, s1, f2, s2, cells1, pos2) = Pair(21);
        var json = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["f1"] = f1.data<float>().ToArray(), ["f1_shape"] = f1.shape, ["f2"] = f2.data<float>().ToArray(), ["f2_shape"] = f2.shape,
            ["s1"] = s1.data<float>().ToArray(), ["s1_shape"] = s1.shape, ["s2"] = s2.data<float>().ToArray(), ["s2_shape"] = s2.shape,
            ["cells1"] = cells1.data<long>().ToArray(), ["pos2"] = pos2.data<float>().ToArray(),
        });
        using var expected = JsonDocument.Parse(RunPython(D2NetPython, json));
        var inputs = new[] { f1, s1, f2, s2 }.Select(t => t.clone().requires_grad_()).ToArray();
        var loss = D2NetLoss.Apply(inputs[0], inputs[1], inputs[2], inputs[3], cells1, pos2, backend: backend);
        Assert.Equal(expected.RootElement.GetProperty("loss").GetDouble(), loss.item<float>(), 1e-4);
        loss.backward();
        foreach (var (name, t) in new[] { ("f1", inputs[0]), ("s1", inputs[1]), ("f2", inputs[2]), ("s2", inputs[3]) })
        {
            var want = expected.RootElement.GetProperty(name).EnumerateArray().Select(e => e.GetDouble()).ToArray();
            OpAssert.Close(torch.tensor(want, t.shape), t.grad!, $"d/d{name}", atol: 1e-5, rtol: 1e-3);
        }
    }

    [Theory]
    [MemberData(nameof(AllBackends))]
    public void SphereWindow_OnAFlatGrid_ExcludesTheSameCellsAsTheEuclideanDistance(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        var (f1, s1, f2, s2, cells1, pos2) = Pair(5);
        // Points (row, col, 0): the 3-D window reduces to a Euclidean disc in the grid.
        Tensor Points(long h, long w)
        {
            var mesh = torch.meshgrid([torch.arange(0, h, 1, ScalarType.Float32), torch.arange(0, w, 1, ScalarType.Float32)]);
            return torch.stack([mesh[0], mesh[1], torch.zeros(h, w)], 2).contiguous();
        }
        var loss = D2NetLoss.Apply(f1, s1, f2, s2, cells1, pos2, Points(10, 11), Points(10, 11), 1, 4.5, backend);
        var reference = D2NetLoss.Apply(f1, s1, f2, s2, cells1, pos2, Points(10, 11), Points(10, 11), 1, 4.5, Backend.Reference);
        Assert.Equal(reference.item<float>(), loss.item<float>(), 1e-5);
        Assert.True(loss.item<float>() > 0);
    }

    [Theory]
    [MemberData(nameof(AllBackends))]
    public void SphereWindow_CellsWithoutAPoint_AreNoCandidateNegatives(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        var (f1, s1, f2, s2, cells1, _) = Pair(8);
        using var g = new Generator(9);
        var pos2 = torch.stack([torch.randint(0, 10, [15], generator: g), torch.randint(0, 11, [15], generator: g)], 1).to(ScalarType.Float32);
        var p1 = torch.randn([10, 11, 3], generator: g).mul(3);
        var p2 = torch.randn([10, 11, 3], generator: g).mul(3);
        var c1 = cells1.data<long>().ToArray();
        var anchorCells = Enumerable.Range(0, 15).Select(k => c1[2 * k] * 11 + c1[2 * k + 1]).ToHashSet();
        var q1 = p1.data<float>().ToArray();
        var q2 = p2.data<float>().ToArray();
        // No depth: every fifth cell of image 1 that no correspondence starts from, every third cell of image 2.
        for (int i = 0; i < 110; i++)
        {
            if (i % 5 == 0 && !anchorCells.Contains(i)) q1[3 * i] = float.NaN;
            if (i % 3 == 0) q2[3 * i + 1] = float.NaN;
        }
        var points1 = torch.tensor(q1, new long[] { 10, 11, 3 });
        var points2 = torch.tensor(q2, new long[] { 10, 11, 3 });
        const double radius = 2.0;
        double got = D2NetLoss.Apply(f1, s1, f2, s2, cells1, pos2, points1, points2, 1, radius, backend).item<float>();

        // Oracle in doubles: D2-Net's loss with the hardest negatives over the cells whose point is finite and farther than the radius.
        double[][] Unit(Tensor f)
        {
            var v = f.data<float>().ToArray();
            return Enumerable.Range(0, 110).Select(cell =>
            {
                var d = Enumerable.Range(0, 6).Select(c => (double)v[c * 110 + cell]).ToArray();
                double n = Math.Sqrt(d.Sum(x => x * x));
                return d.Select(x => x / n).ToArray();
            }).ToArray();
        }
        var (n1, n2) = (Unit(f1), Unit(f2));
        double Sq(double[] a, double[] b) => a.Zip(b, (x, y) => (x - y) * (x - y)).Sum();
        double Dist(float[] q, int cell, float[] a) => Math.Sqrt(Enumerable.Range(0, 3).Sum(c => Math.Pow(q[3 * cell + c] - a[c], 2)));
        var ps = pos2.data<float>().ToArray();
        var (sc1, sc2) = (s1.data<float>().ToArray(), s2.data<float>().ToArray());
        double num = 0, den = 0;
        for (int k = 0; k < 15; k++)
        {
            int a = (int)(c1[2 * k] * 11 + c1[2 * k + 1]), b = (int)(ps[2 * k] * 11 + ps[2 * k + 1]);
            var anchor = new[] { q1[3 * a], q1[3 * a + 1], q1[3 * a + 2] };
            double neg = double.PositiveInfinity;
            for (int j = 0; j < 110; j++)
            {
                if (!float.IsNaN(q2[3 * j + 1]) && Dist(q2, j, anchor) > radius) neg = Math.Min(neg, Sq(n1[a], n2[j]));
                if (!float.IsNaN(q1[3 * j]) && Dist(q1, j, anchor) > radius) neg = Math.Min(neg, Sq(n2[b], n1[j]));
            }
            double w = sc1[a] * sc2[b];
            num += w * Math.Max(0, 1 + Sq(n1[a], n2[b]) - neg);
            den += w;
        }
        Assert.Equal(num / den, got, 1e-4);
    }

    [Theory]
    [MemberData(nameof(AllBackends))]
    public void NoCorrespondences_GiveZeroWithAGraph(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        var (f1, s1, f2, s2, _, _) = Pair(1);
        var f = f1.clone().requires_grad_();
        var loss = D2NetLoss.Apply(f, s1, f2, s2, torch.zeros([0, 2], ScalarType.Int64), torch.zeros(0, 2), backend: backend);
        Assert.Equal(0f, loss.item<float>());
        loss.backward();
        Assert.All(f.grad!.data<float>().ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void BadInputs_NameTheArgument()
    {
        using var scope = torch.NewDisposeScope();
        var (f1, s1, f2, s2, cells1, pos2) = Pair(2);
        var e = Assert.Throws<ArgumentException>(() => D2NetLoss.Apply(f1, s1, f2, s2, cells1, pos2.mul(2)));
        Assert.Equal("pos2", e.ParamName);
        Assert.Contains("inside [0, 9]×[0, 10]", e.Message);
        e = Assert.Throws<ArgumentException>(() => D2NetLoss.Apply(f1, s1, f2, s2, cells1.add(10), pos2));
        Assert.Equal("cells1", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => D2NetLoss.Apply(f1, s1.narrow(0, 0, 5).contiguous(), f2, s2, cells1, pos2));
        Assert.Equal("scores1", e.ParamName);
        Assert.Contains("expected [10, 11], got Float32 [5, 11]", e.Message);
        e = Assert.Throws<ArgumentException>(() => D2NetLoss.Apply(f1, s1, torch.zeros(5, 10, 11), s2, cells1, pos2));
        Assert.Contains("expected channels C (as features1) = 6, got 5", e.Message);
    }

    private static string RunPython(string script, string stdin)
    {
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        using var p = Process.Start(psi)!;
        p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"python3 failed: {stderr}");
        return stdout;
    }
}
