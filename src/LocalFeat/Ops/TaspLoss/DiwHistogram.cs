using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Ops;

/// <summary>
/// The running distribution of TaSP's weighted margins x = s·M (OPS.md §5): <see cref="Bins"/> bins over [0, <see cref="XMax"/>],
/// linear two-bin soft binning, each batch normalised to sum 1, the first batch replacing the state and later ones mixed in with
/// weight <see cref="Momentum"/>. Bin b sits at b·XMax/(Bins − 1). An all-zero state means "no batch yet" (so the state tensor alone
/// is the checkpoint: <see cref="State"/> to save, <see cref="SetState"/> to restore). Updated by <see cref="TaspTripletLoss"/>.
/// </summary>
public sealed class DiwHistogram : IDisposable
{
    private Tensor _state;

    /// <param name="margin">m of M = max(0, m + dPos − dNeg).</param>
    /// <param name="bins">Bins of the histogram (TaSP: 512).</param>
    /// <param name="xmax">Upper end of the range; default sMax·(m + 2) (OPS.md §5: unit descriptors have distances ≤ 2).</param>
    /// <param name="momentum">Weight of each new batch (TaSP: 0.1).</param>
    /// <param name="sMax">Clip of the intrinsic importance s (OPS.md §5: 4).</param>
    public DiwHistogram(double margin, int bins = 512, double? xmax = null, double momentum = 0.1, double sMax = 4)
    {
        if (!double.IsFinite(margin) || margin < 0) throw new ArgumentOutOfRangeException(nameof(margin), margin, "expected a finite margin ≥ 0");
        if (bins < 2) throw new ArgumentOutOfRangeException(nameof(bins), bins, "expected bins ≥ 2");
        if (!double.IsFinite(sMax) || sMax <= 0) throw new ArgumentOutOfRangeException(nameof(sMax), sMax, "expected a finite sMax > 0");
        double range = xmax ?? sMax * (margin + 2);
        if (!double.IsFinite(range) || range <= 0) throw new ArgumentOutOfRangeException(nameof(xmax), xmax, "expected a finite xmax > 0");
        if (!(momentum > 0 && momentum <= 1)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "expected 0 < momentum ≤ 1");
        (Margin, Bins, XMax, Momentum, SMax) = (margin, bins, range, momentum, sMax);
        _state = torch.zeros([bins]).DetachFromDisposeScope();
    }

    public double Margin { get; }
    public int Bins { get; }
    public double XMax { get; }
    public double Momentum { get; }
    public double SMax { get; }

    /// <summary>Bin position per unit of x, in float32 as every backend multiplies by it.</summary>
    internal float Scale => (float)((Bins - 1) / XMax);

    /// <summary>The state [Bins] float32 (the live tensor: clone it to keep a copy). All zeros before the first batch.</summary>
    public Tensor State => _state;

    /// <summary>Restores a state saved from <see cref="State"/> (a checkpoint): [Bins] float32, finite, ≥ 0; copied.</summary>
    public void SetState(Tensor state)
    {
        Validate.Tensor(state, nameof(state), ScalarType.Float32, 1, $"[{Bins}]");
        Validate.Dim(state.size(0), Bins, nameof(state), "bins");
        using var scope = torch.NewDisposeScope();
        if (!(state.isfinite().all().item<bool>() && state.ge(0).all().item<bool>()))
            throw new ArgumentException("argument 'state': expected finite values ≥ 0", nameof(state));
        var copy = state.detach().to(_state.device).clone().DetachFromDisposeScope();
        _state.Dispose();
        _state = copy;
    }

    /// <summary>The state on <paramref name="device"/> (moved there once, on the first batch from that device).</summary>
    internal Tensor StateOn(Device device)
    {
        if (_state.device_type != device.type || _state.device_index != device.index)
        {
            var moved = _state.to(device).DetachFromDisposeScope();
            _state.Dispose();
            _state = moved;
        }
        return _state;
    }

    /// <summary>Replaces the state tensor (Reference backend, which computes a new one).</summary>
    internal void Replace(Tensor state)
    {
        var kept = state.detach().contiguous().DetachFromDisposeScope();
        if (!ReferenceEquals(kept, _state)) _state.Dispose();
        _state = kept;
    }

    public void Dispose() => _state.Dispose();
}
