using System.Runtime.InteropServices;

namespace LocalFeat.Cuda.Nvrtc;

/// <summary>Raw NVRTC entry points (nvrtc.h). Call only after <see cref="NativeLibraries.Nvrtc"/> loaded the library.</summary>
internal static unsafe partial class NvrtcNative
{
    private const string Lib = NativeLibraries.NvrtcName;

    [LibraryImport(Lib)] internal static partial int nvrtcVersion(out int major, out int minor);
    [LibraryImport(Lib)] internal static partial byte* nvrtcGetErrorString(int result);
    // Since NVRTC 11.2.
    [LibraryImport(Lib)] internal static partial int nvrtcGetNumSupportedArchs(out int numArchs);
    [LibraryImport(Lib)] internal static partial int nvrtcGetSupportedArchs(int* supportedArchs);

    [LibraryImport(Lib)]
    internal static partial int nvrtcCreateProgram(out IntPtr prog, byte* src, byte* name, int numHeaders,
        byte** headers, byte** includeNames);
    [LibraryImport(Lib)] internal static partial int nvrtcDestroyProgram(ref IntPtr prog);
    [LibraryImport(Lib)] internal static partial int nvrtcCompileProgram(NvrtcProgramHandle prog, int numOptions, byte** options);
    [LibraryImport(Lib)] internal static partial int nvrtcGetProgramLogSize(NvrtcProgramHandle prog, out nuint logSizeRet);
    [LibraryImport(Lib)] internal static partial int nvrtcGetProgramLog(NvrtcProgramHandle prog, byte* log);
    [LibraryImport(Lib)] internal static partial int nvrtcGetPTXSize(NvrtcProgramHandle prog, out nuint ptxSizeRet);
    [LibraryImport(Lib)] internal static partial int nvrtcGetPTX(NvrtcProgramHandle prog, byte* ptx);
    // Since NVRTC 11.1; fails with NVRTC_ERROR_INVALID_INPUT when compiled for a virtual arch (compute_XY).
    [LibraryImport(Lib)] internal static partial int nvrtcGetCUBINSize(NvrtcProgramHandle prog, out nuint cubinSizeRet);
    [LibraryImport(Lib)] internal static partial int nvrtcGetCUBIN(NvrtcProgramHandle prog, byte* cubin);
}

/// <summary>Owns an <c>nvrtcProgram</c>; released with <c>nvrtcDestroyProgram</c>.</summary>
public sealed class NvrtcProgramHandle : SafeHandle
{
    public NvrtcProgramHandle() : base(IntPtr.Zero, ownsHandle: true) { }

    internal NvrtcProgramHandle(IntPtr handle) : base(IntPtr.Zero, ownsHandle: true) => SetHandle(handle);

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        var h = handle;
        return NvrtcNative.nvrtcDestroyProgram(ref h) == 0;
    }
}
