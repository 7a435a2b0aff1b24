namespace LocalFeat.Train.Settings;

/// <summary>Where model and batches live (<c>run.device</c>).</summary>
public enum DeviceKind
{
    /// <summary>The CPU.</summary>
    Cpu,
    /// <summary>The first CUDA device (needs a CUDA build of libtorch and a GPU).</summary>
    Cuda,
}
