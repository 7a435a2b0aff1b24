using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using LocalFeat.Train.Distributed;
using LocalFeat.Train.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LocalFeat.Tests.Train.Distributed;

/// <summary>
/// The Gloo process group in one test process, one thread per rank, over loopback: collectives against values
/// computed here in C# (sums of two floats are order-free, so exact; three ranks use integer-valued floats, exact
/// too), and the faults — a peer gone, a peer hung, a port in use, an unreachable store, a missing rank — each
/// ending in a DistributedException naming the call and the cause within the timeout.
/// </summary>
public class ProcessGroupTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private static Rendezvous FreshFile() => new("file", TrainFixture.TempDir("gloo-store"), 0);

    /// <summary>Runs <paramref name="body"/> on <paramref name="world"/> ranks (threads), each with its own group.</summary>
    internal static T[] OnRanks<T>(int world, Func<IProcessGroup, T> body, Rendezvous? rendezvous = null, TimeSpan? timeout = null)
    {
        rendezvous ??= FreshFile();
        var results = new T[world];
        var errors = new Exception?[world];
        var threads = Enumerable.Range(0, world).Select(r => new Thread(() =>
        {
            try
            {
                using var g = GlooProcessGroup.Create(r, world, rendezvous, timeout ?? Timeout, host: "127.0.0.1");
                results[r] = body(g);
            }
            catch (Exception e) { errors[r] = e; }
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) Assert.True(t.Join(TimeSpan.FromSeconds(60)), "a rank hung");
        foreach (var e in errors) if (e != null) throw new AggregateException(e);
        return results;
    }

    private static float[] Values(int rank, int n, bool integers)
    {
        var rng = new Random(1234 + rank);
        return Enumerable.Range(0, n).Select(_ => integers ? rng.Next(-1000, 1000) : (float)(rng.NextDouble() * 2 - 1) * 1e3f).ToArray();
    }

    [Theory]
    [InlineData(2, 1, false)]
    [InlineData(2, 1_000_003, false)]  // several MB: Gloo's ring splits it into chunks
    [InlineData(3, 4099, true)]
    public void AllReduce_SumsOverRanks(int world, int n, bool integers)
    {
        var expected = new float[n];
        for (int r = 0; r < world; r++)
        {
            var v = Values(r, n, integers);
            for (int i = 0; i < n; i++) expected[i] += v[i];
        }
        var got = OnRanks(world, g =>
        {
            using var t = torch.tensor(Values(g.Rank, n, integers));
            g.AllReduce(t);
            return t.data<float>().ToArray();
        });
        foreach (var r in got) Assert.Equal(expected, r);  // bit for bit
    }

    [Fact]
    public void AllReduce_OfAStridedTensor_WritesBack()
    {
        var got = OnRanks(2, g =>
        {
            using var m = torch.arange(12, dtype: ScalarType.Float32).reshape(3, 4) * (g.Rank + 1);
            using var column = m.t();  // not contiguous: staged through a copy
            g.AllReduce(column);
            return m.data<float>().ToArray();
        });
        var expected = Enumerable.Range(0, 12).Select(i => i * 3f).ToArray();
        Assert.Equal(expected, got[0]);
        Assert.Equal(expected, got[1]);
    }

    [Fact]
    public void Broadcast_TensorsAndBytes_FromAnyRoot()
    {
        var got = OnRanks(3, g =>
        {
            using var ints = torch.tensor(new long[] { 10L * g.Rank, 10L * g.Rank + 1, long.MaxValue - g.Rank });
            g.Broadcast(ints, root: 2);
            using var floats = torch.full(5, (float)g.Rank + 0.5f);
            g.Broadcast(floats, root: 0);
            var bytes = g.Broadcast(Encoding.UTF8.GetBytes(new string('x', g.Rank * 1000 + 1)), root: 1);
            return (ints.data<long>().ToArray(), floats.data<float>().ToArray(), bytes.Length);
        });
        foreach (var (ints, floats, length) in got)
        {
            Assert.Equal(new long[] { 20, 21, long.MaxValue - 2 }, ints);
            Assert.Equal(Enumerable.Repeat(0.5f, 5).ToArray(), floats);
            Assert.Equal(1001, length);
        }
    }

    [Fact]
    public void AllGather_VariableLengths_AndBarrier()
    {
        var got = OnRanks(3, g =>
        {
            g.Barrier();
            return g.AllGather(Encoding.UTF8.GetBytes($"rank {g.Rank} " + new string('y', 7 * g.Rank)));
        });
        foreach (var all in got)
            Assert.Equal(new[] { "rank 0 ", "rank 1 yyyyyyy", "rank 2 yyyyyyyyyyyyyy" }, all.Select(b => Encoding.UTF8.GetString(b)).ToArray());
    }

    [Fact]
    public void TcpRendezvous_ConnectsAndReduces()
    {
        int port = FreePort();
        var got = OnRanks(2, g =>
        {
            using var t = torch.tensor(new float[] { g.Rank + 1, 100 });
            g.AllReduce(t);
            return t.data<float>().ToArray();
        }, new Rendezvous("tcp", "127.0.0.1", port));
        Assert.Equal(new float[] { 3, 200 }, got[0]);
        Assert.Equal(new float[] { 3, 200 }, got[1]);
    }

    [Fact]
    public void GradientAverager_WeightsEachRankByItsPairs_InBuckets()
    {
        // Rank 0 kept 1 pair, rank 1 kept 3: the gradient of the mean over all 4 pairs is (1·g0 + 3·g1) / 4.
        var g0 = new[] { new float[] { 1, 2, 3 }, new float[] { 4, 5 } };
        var g1 = new[] { new float[] { -3, 10, 7 }, new float[] { 0, 1 } };
        int[] pairs = [1, 3];
        double[] losses = [2.0, 6.0];
        var got = OnRanks(2, g =>
        {
            var grads = g.Rank == 0 ? g0 : g1;
            var ps = grads.Select(v => torch.zeros(v.Length, requires_grad: true)).ToArray();
            for (int i = 0; i < ps.Length; i++) (ps[i] * torch.tensor(grads[i])).sum().backward();
            var averager = new GradientAverager(g, bucketElements: 2);  // one bucket per parameter
            var (loss, all) = averager.Average(ps, losses[g.Rank], pairs[g.Rank]);
            return (loss, all, ps.Select(p => p.grad!.data<float>().ToArray()).ToArray());
        });
        for (int r = 0; r < 2; r++)
        {
            Assert.Equal((1 * 2.0 + 3 * 6.0) / 4, got[r].loss, 6);
            Assert.Equal(4, got[r].all);
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < g0[i].Length; j++)
                    Assert.Equal((1 * g0[i][j] + 3 * g1[i][j]) / 4.0, got[r].Item3[i][j], 5);
        }
    }

    [Fact]
    public void ConfigAgreement_NamesTheFirstDifferingKey()
    {
        var messages = OnRanks(2, g =>
        {
            var c = TrainFixture.Config("/tmp/unused-run");
            if (g.Rank == 1) { c.Optimizer.Lr = 0.001; c.Data.CropSize = 128; }
            return Assert.Throws<ConfigException>(() => ConfigAgreement.Check(g, c)).Message;
        });
        Assert.All(messages, m => Assert.Contains("'optimizer.lr' is 0.003 on rank 0 but 0.001 on rank 1", m));
        OnRanks(2, g => { ConfigAgreement.Check(g, TrainFixture.Config("/tmp/unused-run")); return 0; });
    }

    [Fact]
    public void PeerGone_FailsTheCollective_NamingTheRank()
    {
        var clock = Stopwatch.StartNew();
        var got = OnRanks(2, g =>
        {
            g.Barrier();  // both groups complete (rank 1 leaving during rank 0's rendezvous would fail that instead)
            if (g.Rank == 1) return "";  // leaves at once: its group is disposed, its sockets closed
            using var t = torch.ones(1000);
            return Assert.Throws<DistributedException>(() => { for (int i = 0; i < 100; i++) g.AllReduce(t); }).Message;
        });
        Assert.Contains("rank 0: allreduce failed", got[0]);
        Assert.Contains("rank 1 is gone", got[0]);
        Assert.True(clock.Elapsed < Timeout, $"took {clock.Elapsed}");
    }

    [Fact]
    public void PeerHung_TimesOut_NamingTheRank()
    {
        var got = OnRanks(2, g =>
        {
            if (g.Rank == 1) { Thread.Sleep(4000); return (msg: "", s: 0.0); }  // alive, never calls
            var clock = Stopwatch.StartNew();
            using var t = torch.ones(10);
            var e = Assert.Throws<DistributedException>(() => g.AllReduce(t));
            return (msg: e.Message, s: clock.Elapsed.TotalSeconds);
        }, timeout: TimeSpan.FromSeconds(1));
        Assert.Contains("rank 1 did not answer within 1 s (dist.timeout_s)", got[0].msg);
        Assert.InRange(got[0].s, 0.9, 3.5);
    }

    [Fact]
    public void PortInUse_IsRefusedAtOnce()
    {
        using var blocker = new TcpListener(IPAddress.Loopback, 0);
        blocker.Start();
        int port = ((IPEndPoint)blocker.LocalEndpoint).Port;
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<DistributedException>(() => GlooProcessGroup.Create(0, 2, new Rendezvous("tcp", "127.0.0.1", port), TimeSpan.FromSeconds(10), "127.0.0.1"));
        Assert.Contains($"rendezvous tcp:127.0.0.1:{port}: rank 0 cannot listen there: Address already in use", e.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
    }

    [Fact]
    public void UnreachableStore_TimesOut()
    {
        int port = FreePort();
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<DistributedException>(() => GlooProcessGroup.Create(1, 2, new Rendezvous("tcp", "127.0.0.1", port), TimeSpan.FromSeconds(2), "127.0.0.1"));
        Assert.Contains($"rank 1: rendezvous tcp:127.0.0.1:{port} of 2 ranks failed", e.Message);
        Assert.Contains("no store reachable within 2", e.Message);
        Assert.InRange(clock.Elapsed.TotalSeconds, 1.9, 6);
    }

    [Fact]
    public void MissingRank_FileRendezvousTimesOut()
    {
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<DistributedException>(() => GlooProcessGroup.Create(0, 2, FreshFile(), TimeSpan.FromSeconds(2), "127.0.0.1"));
        Assert.Contains("rank 0: rendezvous file:", e.Message);
        Assert.InRange(clock.Elapsed.TotalSeconds, 1.9, 8);
    }

    [Fact]
    public void BadArguments_AreNamed()
    {
        Assert.Contains("--rank: expected 0..1", Assert.Throws<ArgumentException>(() => GlooProcessGroup.Create(2, 2, FreshFile(), Timeout)).Message);
        Assert.Contains("--rendezvous: expected file:DIR or tcp:HOST:PORT", Assert.Throws<ArgumentException>(() => Rendezvous.Parse("tcp:host")).Message);
        Assert.Contains("got 'udp:x:1'", Assert.Throws<ArgumentException>(() => Rendezvous.Parse("udp:x:1")).Message);
        Assert.Equal(new Rendezvous("tcp", "10.0.0.1", 29500), Rendezvous.Parse("tcp:10.0.0.1:29500"));
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
