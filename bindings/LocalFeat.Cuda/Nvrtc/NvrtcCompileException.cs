namespace LocalFeat.Cuda.Nvrtc;

/// <summary>NVRTC rejected a program: carries the whole compile log and the options it was compiled with.</summary>
public sealed class NvrtcCompileException : CudaException
{
    public NvrtcCompileException(string call, string errorName, string programName, IReadOnlyList<string> options, string log)
        : base($"{call}: {errorName} compiling {programName}\noptions: {string.Join(' ', options)}\nlog:\n{log}")
    {
        ErrorName = errorName;
        ProgramName = programName;
        Options = options;
        Log = log;
    }

    public string ErrorName { get; }
    public string ProgramName { get; }
    public IReadOnlyList<string> Options { get; }
    public string Log { get; }
}
