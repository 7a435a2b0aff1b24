using System.Diagnostics;
using System.Globalization;
using System.Text;
using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Train.Distributed;

/// <summary>
/// A process group over Gloo (liblocalfeat_gloo.so): rendezvous through a file or TCP store, full mesh of TCP
/// pairs, ring allreduce. Every call has the group's timeout; a failure names the call, this rank, the peer (with
/// two ranks, the other one) and Gloo's reason. Tensors are staged through contiguous CPU memory.
/// </summary>
public sealed unsafe class GlooProcessGroup : IProcessGroup
{
    private IntPtr _group;
    private readonly long _timeoutMs;

    public int Rank { get; }
    public int WorldSize { get; }
    public TimeSpan Timeout { get; }

    /// <summary>What the launcher knows about dead peers (e.g. "rank 1 (pid 123) was killed by signal 9"), added to errors.</summary>
    public Func<string?>? PeerStatus { get; set; }

    private GlooProcessGroup(IntPtr group, int rank, int worldSize, TimeSpan timeout)
    {
        _group = group;
        Rank = rank;
        WorldSize = worldSize;
        Timeout = timeout;
        _timeoutMs = (long)timeout.TotalMilliseconds;
    }

    /// <param name="host">address this rank's transport listens on and advertises (empty: the machine's hostname).</param>
    /// <param name="iface">network interface to use instead of <paramref name="host"/> (empty: none).</param>
    /// <param name="prefix">keeps runs sharing one store apart.</param>
    public static GlooProcessGroup Create(int rank, int worldSize, Rendezvous rendezvous, TimeSpan timeout, string host = "", string iface = "", string prefix = "localfeat")
    {
        if (worldSize < 1) throw new ArgumentException($"--world-size: expected an integer ≥ 1, got {worldSize}");
        if (rank < 0 || rank >= worldSize) throw new ArgumentException($"--rank: expected 0..{worldSize - 1} (world size {worldSize}), got {rank}");
        if (timeout <= TimeSpan.Zero) throw new ArgumentException($"timeout: expected > 0 s, got {timeout.TotalSeconds} s");
        if (rendezvous.Kind == "file") Directory.CreateDirectory(rendezvous.Where);
        byte* err = stackalloc byte[GlooNative.ErrorLength];
        err[0] = 0;
        int rc;
        IntPtr group;
        var clock = Stopwatch.StartNew();
        try
        {
            rc = GlooNative.lfg_create(rank, worldSize, rendezvous.Kind, rendezvous.Where, rendezvous.Port, prefix, host, iface,
                (long)timeout.TotalMilliseconds, out group, err, GlooNative.ErrorLength);
        }
        catch (DllNotFoundException e)
        {
            throw new DistributedException("distributed training needs liblocalfeat_gloo.so beside localfeat (built from native/gloo where libgloo-dev is installed: scripts/setup.sh)", e);
        }
        if (rc != 0)
            throw new DistributedException($"rank {rank}: rendezvous {rendezvous} of {worldSize} ranks failed after {clock.Elapsed.TotalSeconds:F1} s: {Reason(err)}");
        return new GlooProcessGroup(group, rank, worldSize, timeout);
    }

    private static string Reason(byte* err) => Encoding.UTF8.GetString(err, new ReadOnlySpan<byte>(err, GlooNative.ErrorLength).IndexOf((byte)0)).Trim();

    private void Check(int rc, byte* err, string call, Stopwatch clock)
    {
        if (rc == 0) return;
        string reason = Reason(err);
        string peer = WorldSize == 2 ? $"rank {1 - Rank}" : "a peer";
        string what = reason.Contains("imed out", StringComparison.Ordinal)
            ? $"{peer} did not answer within {Timeout.TotalSeconds.ToString("G4", CultureInfo.InvariantCulture)} s (dist.timeout_s): hung or too slow"
            : $"{peer} is gone (died or closed the connection)";
        string status = PeerStatus?.Invoke() is { Length: > 0 } s ? $"; {s}" : "";
        throw new DistributedException($"rank {Rank}: {call} failed after {clock.Elapsed.TotalSeconds:F1} s: {what}{status} ({reason})");
    }

    private IntPtr Handle => _group != IntPtr.Zero ? _group : throw new ObjectDisposedException(nameof(GlooProcessGroup));

    public void AllReduce(Tensor tensor)
    {
        if (tensor.dtype != ScalarType.Float32) throw new ArgumentException($"AllReduce: expected a float32 tensor, got {tensor.dtype}");
        Staged(tensor, t =>
        {
            byte* err = stackalloc byte[GlooNative.ErrorLength];
            var clock = Stopwatch.StartNew();
            Check(GlooNative.lfg_allreduce_f32(Handle, (float*)t.data_ptr(), t.numel(), _timeoutMs, err, GlooNative.ErrorLength), err, "allreduce", clock);
        });
    }

    public void Broadcast(Tensor tensor, int root = 0)
    {
        CheckRoot(root);
        Staged(tensor, t =>
        {
            byte* err = stackalloc byte[GlooNative.ErrorLength];
            var clock = Stopwatch.StartNew();
            Check(GlooNative.lfg_broadcast(Handle, (void*)t.data_ptr(), t.numel() * t.element_size(), root, _timeoutMs, err, GlooNative.ErrorLength), err, "broadcast", clock);
        });
    }

    public byte[] Broadcast(byte[] data, int root = 0)
    {
        CheckRoot(root);
        long[] length = [data.LongLength];
        fixed (long* p = length) BroadcastRaw(p, sizeof(long), root);
        var result = Rank == root ? data : new byte[length[0]];
        if (result.Length > 0) fixed (byte* p = result) BroadcastRaw(p, result.Length, root);
        return result;
    }

    private void BroadcastRaw(void* p, long bytes, int root)
    {
        byte* err = stackalloc byte[GlooNative.ErrorLength];
        var clock = Stopwatch.StartNew();
        Check(GlooNative.lfg_broadcast(Handle, p, bytes, root, _timeoutMs, err, GlooNative.ErrorLength), err, "broadcast", clock);
    }

    public byte[][] AllGather(byte[] data)
    {
        var lengths = new long[WorldSize];
        long mine = data.LongLength;
        AllGatherRaw(&mine, sizeof(long), lengths);
        long max = lengths.Max();
        var padded = new byte[max];
        data.CopyTo(padded, 0);
        var all = new byte[max * WorldSize];
        if (max > 0) fixed (byte* a = all) fixed (byte* p = padded) AllGatherRaw(p, max, a);
        return Enumerable.Range(0, WorldSize).Select(r => all.AsSpan((int)(r * max), (int)lengths[r]).ToArray()).ToArray();
    }

    private void AllGatherRaw(void* input, long bytes, long[] output)
    {
        fixed (long* o = output) AllGatherRaw(input, bytes, (void*)o);
    }

    private void AllGatherRaw(void* input, long bytes, void* output)
    {
        byte* err = stackalloc byte[GlooNative.ErrorLength];
        var clock = Stopwatch.StartNew();
        Check(GlooNative.lfg_allgather(Handle, input, bytes, output, _timeoutMs, err, GlooNative.ErrorLength), err, "allgather", clock);
    }

    public void Barrier()
    {
        byte* err = stackalloc byte[GlooNative.ErrorLength];
        var clock = Stopwatch.StartNew();
        Check(GlooNative.lfg_barrier(Handle, _timeoutMs, err, GlooNative.ErrorLength), err, "barrier", clock);
    }

    private void CheckRoot(int root)
    {
        if (root < 0 || root >= WorldSize) throw new ArgumentException($"root: expected 0..{WorldSize - 1}, got {root}");
    }

    // Gloo reads and writes host memory: a CUDA or strided tensor goes through a contiguous CPU copy.
    private static void Staged(Tensor tensor, Action<Tensor> op)
    {
        if (tensor.device_type == DeviceType.CPU && tensor.is_contiguous()) { op(tensor); return; }
        using var staged = tensor.detach().to(torch.CPU).contiguous();
        op(staged);
        using var guard = torch.no_grad();
        tensor.copy_(staged);
    }

    public void Dispose()
    {
        if (_group == IntPtr.Zero) return;
        GlooNative.lfg_destroy(_group);
        _group = IntPtr.Zero;
    }
}
