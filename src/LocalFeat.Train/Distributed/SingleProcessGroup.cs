using static TorchSharp.torch;

namespace LocalFeat.Train.Distributed;

/// <summary>World size 1: every collective is the identity.</summary>
public sealed class SingleProcessGroup : IProcessGroup
{
    public static readonly SingleProcessGroup Instance = new();

    public int Rank => 0;
    public int WorldSize => 1;
    public void AllReduce(Tensor tensor) { }
    public void Broadcast(Tensor tensor, int root = 0) { }
    public byte[] Broadcast(byte[] data, int root = 0) => data;
    public byte[][] AllGather(byte[] data) => [data];
    public void Barrier() { }
    public void Dispose() { }
}
