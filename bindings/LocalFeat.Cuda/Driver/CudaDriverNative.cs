using System.Runtime.InteropServices;

namespace LocalFeat.Cuda.Driver;

/// <summary>
/// Raw CUDA driver API entry points (cuda.h, 64-bit). The <c>_v2</c> names are the ones the driver exports for
/// the current ABI (cuda.h maps the plain names to them with macros). Call only after
/// <see cref="NativeLibraries.Driver"/> loaded libcuda.so.1 (done by <see cref="CudaDriver"/>).
/// </summary>
internal static unsafe partial class CudaDriverNative
{
    private const string Lib = NativeLibraries.DriverName;

    [LibraryImport(Lib)] internal static partial int cuInit(uint flags);
    [LibraryImport(Lib)] internal static partial int cuDriverGetVersion(out int version);
    [LibraryImport(Lib)] internal static partial int cuGetErrorName(int error, out byte* name);
    [LibraryImport(Lib)] internal static partial int cuGetErrorString(int error, out byte* text);

    [LibraryImport(Lib)] internal static partial int cuDeviceGetCount(out int count);
    [LibraryImport(Lib)] internal static partial int cuDeviceGet(out int device, int ordinal);
    [LibraryImport(Lib)] internal static partial int cuDeviceGetName(byte* name, int len, int device);
    [LibraryImport(Lib)] internal static partial int cuDeviceGetAttribute(out int value, CuDeviceAttribute attribute, int device);
    [LibraryImport(Lib)] internal static partial int cuDeviceTotalMem_v2(out nuint bytes, int device);

    [LibraryImport(Lib)] internal static partial int cuDevicePrimaryCtxRetain(out IntPtr context, int device);
    [LibraryImport(Lib)] internal static partial int cuDevicePrimaryCtxRelease_v2(int device);
    [LibraryImport(Lib)] internal static partial int cuCtxSetCurrent(IntPtr context);
    [LibraryImport(Lib)] internal static partial int cuCtxGetCurrent(out IntPtr context);
    [LibraryImport(Lib)] internal static partial int cuCtxPushCurrent_v2(IntPtr context);
    [LibraryImport(Lib)] internal static partial int cuCtxPopCurrent_v2(out IntPtr context);
    [LibraryImport(Lib)] internal static partial int cuCtxSynchronize();

    [LibraryImport(Lib)] internal static partial int cuModuleLoadData(out IntPtr module, void* image);
    [LibraryImport(Lib)]
    internal static partial int cuModuleLoadDataEx(out IntPtr module, void* image, uint numOptions, int* options, void** optionValues);
    [LibraryImport(Lib)] internal static partial int cuModuleUnload(IntPtr module);
    [LibraryImport(Lib)] internal static partial int cuModuleGetFunction(out IntPtr function, IntPtr module, byte* name);
    [LibraryImport(Lib)] internal static partial int cuFuncGetAttribute(out int value, CuFunctionAttribute attribute, IntPtr function);
    [LibraryImport(Lib)] internal static partial int cuFuncSetAttribute(IntPtr function, CuFunctionAttribute attribute, int value);

    [LibraryImport(Lib)]
    internal static partial int cuLaunchKernel(IntPtr function, uint gridX, uint gridY, uint gridZ,
        uint blockX, uint blockY, uint blockZ, uint sharedMemBytes, IntPtr stream, void** kernelParams, void** extra);

    [LibraryImport(Lib)] internal static partial int cuMemAlloc_v2(out ulong devicePtr, nuint bytes);
    [LibraryImport(Lib)] internal static partial int cuMemFree_v2(ulong devicePtr);
    [LibraryImport(Lib)] internal static partial int cuMemGetInfo_v2(out nuint free, out nuint total);
    [LibraryImport(Lib)] internal static partial int cuMemcpyHtoD_v2(ulong dst, void* src, nuint bytes);
    [LibraryImport(Lib)] internal static partial int cuMemcpyDtoH_v2(void* dst, ulong src, nuint bytes);
    [LibraryImport(Lib)] internal static partial int cuMemcpyDtoD_v2(ulong dst, ulong src, nuint bytes);
    [LibraryImport(Lib)] internal static partial int cuMemcpyHtoDAsync_v2(ulong dst, void* src, nuint bytes, IntPtr stream);
    [LibraryImport(Lib)] internal static partial int cuMemcpyDtoHAsync_v2(void* dst, ulong src, nuint bytes, IntPtr stream);
    [LibraryImport(Lib)] internal static partial int cuMemsetD8_v2(ulong dst, byte value, nuint count);
    [LibraryImport(Lib)] internal static partial int cuMemsetD32_v2(ulong dst, uint value, nuint count);

    [LibraryImport(Lib)] internal static partial int cuStreamCreate(out IntPtr stream, uint flags);
    [LibraryImport(Lib)] internal static partial int cuStreamDestroy_v2(IntPtr stream);
    [LibraryImport(Lib)] internal static partial int cuStreamSynchronize(IntPtr stream);

    [LibraryImport(Lib)] internal static partial int cuEventCreate(out IntPtr evt, uint flags);
    [LibraryImport(Lib)] internal static partial int cuEventDestroy_v2(IntPtr evt);
    [LibraryImport(Lib)] internal static partial int cuEventRecord(IntPtr evt, IntPtr stream);
    [LibraryImport(Lib)] internal static partial int cuEventSynchronize(IntPtr evt);
    [LibraryImport(Lib)] internal static partial int cuEventElapsedTime(out float milliseconds, IntPtr start, IntPtr end);
}

/// <summary>CUdevice_attribute values used by LocalFeat (cuda.h).</summary>
public enum CuDeviceAttribute
{
    MaxThreadsPerBlock = 1,
    MaxBlockDimX = 2,
    MaxBlockDimY = 3,
    MaxBlockDimZ = 4,
    MaxGridDimX = 5,
    MaxGridDimY = 6,
    MaxGridDimZ = 7,
    MaxSharedMemoryPerBlock = 8,
    WarpSize = 10,
    MaxRegistersPerBlock = 12,
    MultiprocessorCount = 16,
    MaxThreadsPerMultiprocessor = 39,
    ComputeCapabilityMajor = 75,
    ComputeCapabilityMinor = 76,
    MaxSharedMemoryPerMultiprocessor = 81,
    MaxRegistersPerMultiprocessor = 82,
    MaxSharedMemoryPerBlockOptin = 97,
}

/// <summary>CUfunction_attribute values (cuda.h).</summary>
public enum CuFunctionAttribute
{
    MaxThreadsPerBlock = 0,
    SharedSizeBytes = 1,
    ConstSizeBytes = 2,
    LocalSizeBytes = 3,
    NumRegs = 4,
    PtxVersion = 5,
    BinaryVersion = 6,
    CacheModeCa = 7,
    MaxDynamicSharedSizeBytes = 8,
    PreferredSharedMemoryCarveout = 9,
}
