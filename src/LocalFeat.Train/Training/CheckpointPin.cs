namespace LocalFeat.Train.Training;

/// <summary>A checkpoint being read: while this is alive its folder is not pruned (a shared lock on its <c>.pin</c>).</summary>
public sealed class CheckpointPin(Checkpoint.Info info, FileStream? pin) : IDisposable
{
    public Checkpoint.Info Info { get; } = info;

    public void Dispose() => pin?.Dispose();
}
