namespace LocalFeat.Torch;

/// <summary>A libtorch or OpenCV failure, carrying the failing call and libtorch's message.</summary>
public sealed class TorchException : Exception
{
    public TorchException(string message) : base(message) { }
    public TorchException(string message, Exception inner) : base(message, inner) { }
}
