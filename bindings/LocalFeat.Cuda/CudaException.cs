namespace LocalFeat.Cuda;

/// <summary>A failure of the CUDA driver, NVRTC, cuBLAS or the host emulation, naming the call and the reason.</summary>
public class CudaException : Exception
{
    public CudaException(string message) : base(message) { }
    public CudaException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A native library (libcuda, NVRTC, cuBLAS, the host emulation) could not be loaded.</summary>
public sealed class NativeLibraryMissingException : CudaException
{
    public NativeLibraryMissingException(string what, IReadOnlyList<string> searched)
        : base($"{what} not found; searched: {string.Join(", ", searched)}") => Searched = searched;

    public IReadOnlyList<string> Searched { get; }
}
