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
