namespace LocalFeat.Ops;

/// <summary>Which implementation of an op runs. Tests and benchmarks pick one explicitly.</summary>
public enum Backend
{
    /// <summary>CUDA tensors: the Kernel backend on the device; CPU tensors: the Cpu backend.</summary>
    Auto,
    /// <summary>Composite libtorch ops: the readable oracle.</summary>
    Reference,
    /// <summary>Fused C# (System.Numerics.Tensors, Parallel.For); CPU tensors only.</summary>
    Cpu,
    /// <summary>The CUDA kernel: on the device for CUDA tensors, through the host emulation for CPU tensors.</summary>
    Kernel,
}
