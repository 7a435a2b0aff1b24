using static TorchSharp.torch;

namespace LocalFeat.Train.Distributed;

/// <summary>
/// The collectives data-parallel training needs, as torch.distributed's process group offers them. Every rank calls
/// the same operations in the same order; each either completes on every rank or throws
/// <see cref="DistributedException"/> (a dead peer, a timeout) — never hangs past the group's timeout.
/// <see cref="GlooProcessGroup"/> runs them over Gloo (CPU tensors, TCP); <see cref="SingleProcessGroup"/> is the
/// one-process case. An NCCL group (CUDA tensors) would implement the same interface.
/// </summary>
public interface IProcessGroup : IDisposable
{
    int Rank { get; }
    int WorldSize { get; }

    /// <summary>In place: <paramref name="tensor"/> becomes the element-wise sum over the ranks (float32).</summary>
    void AllReduce(Tensor tensor);

    /// <summary>In place: every rank's <paramref name="tensor"/> becomes <paramref name="root"/>'s (any dtype, same shape on every rank).</summary>
    void Broadcast(Tensor tensor, int root = 0);

    /// <summary>Root's bytes on every rank (other ranks' arguments are ignored; lengths may differ).</summary>
    byte[] Broadcast(byte[] data, int root = 0);

    /// <summary>Every rank's bytes, indexed by rank (lengths may differ).</summary>
    byte[][] AllGather(byte[] data);

    void Barrier();
}
