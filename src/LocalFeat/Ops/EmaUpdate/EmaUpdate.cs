using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Ops;

/// <summary>
/// BYOL's target-network update (OPS.md §6): t ← tau·t + (1 − tau)·o for every parameter at once, in place,
/// under no_grad. Parameters are averaged; buffers (running statistics, counters) are copied from the online
/// module, as BYOL implementations do: an average of batch-norm counters or of integer buffers means nothing.
/// <para>Rounding, the same bits on every backend: fl(fl(τ·t) + fl(ω·o)) with τ = (float)tau and
/// ω = (float)(1 − tau), each product and the sum rounded once (no FMA).</para>
/// </summary>
public static partial class EmaUpdate
{
    /// <summary>
    /// BYOL's cosine schedule: τ_k = 1 − (1 − τ_base)·(cos(π·k/K) + 1)/2, from τ_base at step 0 to 1 at step
    /// K = <paramref name="totalSteps"/> (steps past K stay at 1).
    /// </summary>
    public static double Tau(long step, long totalSteps, double tauBase = 0.996)
    {
        if (totalSteps < 1) throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, "expected totalSteps ≥ 1");
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), step, "expected step ≥ 0");
        if (!(tauBase >= 0 && tauBase <= 1)) throw new ArgumentOutOfRangeException(nameof(tauBase), tauBase, "expected 0 ≤ tauBase ≤ 1");
        double k = Math.Min(step, totalSteps);
        return 1 - (1 - tauBase) * (Math.Cos(Math.PI * k / totalSteps) + 1) / 2;
    }

    /// <summary>
    /// Updates <paramref name="target"/>'s parameters from <paramref name="online"/>'s (paired by name, same
    /// shapes, float32, contiguous, on one device) and copies the online buffers into the target's (paired by
    /// name, any dtype). One kernel launch / one fused pass for all parameters; the buffers take one copy each.
    /// </summary>
    public static void Apply(nn.Module target, nn.Module online, double tau, Backend backend = Backend.Auto)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(online);
        var (tp, op) = Pair(target.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).ToList(),
            online.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).ToList(), "parameter");
        var (tb, ob) = Pair(target.named_buffers().ToList(), online.named_buffers().ToList(), "buffer");
        for (int i = 0; i < tb.Count; i++)
            if (!tb[i].shape.SequenceEqual(ob[i].shape))
                throw new ArgumentException($"argument 'target': buffer {i} has shape [{string.Join(", ", tb[i].shape)}], online's [{string.Join(", ", ob[i].shape)}]", nameof(target));
        Apply(tp, op, tau, backend);
        using var noGrad = torch.no_grad();
        for (int i = 0; i < tb.Count; i++) tb[i].copy_(ob[i]);
    }

    /// <summary>
    /// Averages every tensor of <paramref name="target"/> towards the one at the same index of
    /// <paramref name="online"/>: float32, contiguous, equal shapes (any, empty included), one device.
    /// </summary>
    public static void Apply(IReadOnlyList<Tensor> target, IReadOnlyList<Tensor> online, double tau, Backend backend = Backend.Auto)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(online);
        if (!(tau >= 0 && tau <= 1)) throw new ArgumentOutOfRangeException(nameof(tau), tau, "expected 0 ≤ tau ≤ 1");
        if (target.Count != online.Count)
            throw new ArgumentException($"argument 'online': expected {target.Count} tensors (as target), got {online.Count}", nameof(online));
        if (target.Count == 0) return;
        var first = target[0] ?? throw new ArgumentNullException("target[0]", "expected a float32 tensor");
        if (first.IsInvalid) throw new ArgumentException("argument 'target[0]': expected a float32 tensor, got a disposed tensor", "target[0]");
        var (deviceType, deviceIndex) = (first.device_type, first.device_index);
        if (backend == Backend.Auto) backend = deviceType == DeviceType.CPU ? Backend.Cpu : Backend.Kernel;
        if (backend is not (Backend.Reference or Backend.Cpu or Backend.Kernel))
            throw new ArgumentOutOfRangeException(nameof(backend), backend, "expected Auto, Reference, Cpu or Kernel");
        if (backend == Backend.Cpu) Validate.OnCpu(first, "target[0]", backend);
        // One pass of checks that also gathers what the fused backends need: per tensor only a few native
        // queries, as for tiny tensors they are most of the cost.
        bool fused = backend != Backend.Reference;
        var segments = new Segment[target.Count];
        for (int i = 0; i < target.Count; i++)
        {
            var ts = Check(target[i], nameof(target), i, first, deviceType, deviceIndex);
            var os = Check(online[i], nameof(online), i, first, deviceType, deviceIndex);
            if (!ts.AsSpan().SequenceEqual(os))
                throw new ArgumentException($"argument 'online[{i}]': expected shape [{string.Join(", ", ts)}] (as target[{i}]), got {Validate.Describe(online[i])}", nameof(online));
            long n = 1;
            foreach (var d in ts) n *= d;
            segments[i] = new Segment(fused && n > 0 ? target[i].data_ptr() : 0, fused && n > 0 ? online[i].data_ptr() : 0, n);
        }
        using var noGrad = torch.no_grad();
        switch (backend)
        {
            case Backend.Reference: Reference(target, online, tau); break;
            case Backend.Cpu: CpuUpdate(segments, tau); break;
            default: KernelUpdate(segments, first, tau); break;
        }
    }

    /// <summary>A tensor's element pointers (target, online) and length, as the fused backends take them.</summary>
    internal readonly record struct Segment(IntPtr Target, IntPtr Online, long Length);

    /// <summary>The element's name is built only on failure: this runs once per tensor of a model.</summary>
    private static long[] Check(Tensor? t, string list, int index, Tensor first, DeviceType deviceType, int deviceIndex)
    {
        if (t is not null && !t.IsInvalid && t.dtype == ScalarType.Float32 && t.is_contiguous()
            && t.device_type == deviceType && (deviceType == DeviceType.CPU || t.device_index == deviceIndex))
            return t.shape;
        string name = $"{list}[{index}]";
        if (t is null) throw new ArgumentNullException(name, "expected a float32 tensor");
        if (t.IsInvalid) throw new ArgumentException($"argument '{name}': expected a float32 tensor, got a disposed tensor", name);
        if (t.dtype != ScalarType.Float32 || !t.is_contiguous())
            throw new ArgumentException($"argument '{name}': expected a contiguous Float32 tensor of any shape, got {Validate.Describe(t)}", name);
        if (t.device_type != deviceType || (deviceType != DeviceType.CPU && t.device_index != deviceIndex))
            Validate.SameDevice(first, "target[0]", t, name);
        return t.shape;
    }

    private static (List<Tensor> target, List<Tensor> online) Pair(List<(string name, Tensor t)> target, List<(string name, Tensor t)> online, string what)
    {
        var byName = online.ToDictionary(x => x.name, x => x.t);
        if (target.Count != online.Count || target.Any(x => !byName.ContainsKey(x.name)))
        {
            var missing = target.Select(x => x.name).Except(byName.Keys).Concat(byName.Keys.Except(target.Select(x => x.name)));
            throw new ArgumentException($"argument 'online': expected the {what}s of target ({target.Count}), got {online.Count}; unpaired: {string.Join(", ", missing)}", nameof(online));
        }
        return (target.Select(x => x.t).ToList(), target.Select(x => byName[x.name]).ToList());
    }
}
