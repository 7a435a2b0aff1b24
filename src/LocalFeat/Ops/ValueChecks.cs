namespace LocalFeat.Ops;

/// <summary>When the ops check input values (finite descriptors, positions inside the map): see <see cref="OpChecks"/>.</summary>
public enum ValueChecks
{
    /// <summary>CPU tensors only: there reading a value costs no host–device synchronisation.</summary>
    CpuOnly,
    /// <summary>Every tensor; on CUDA tensors each check waits for the device (debugging).</summary>
    Always,
    /// <summary>No value checks: NaN/Inf or out-of-range values give the documented undefined-but-safe results.</summary>
    Never,
}
