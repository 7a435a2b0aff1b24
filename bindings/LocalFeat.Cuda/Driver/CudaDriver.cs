using System.Runtime.InteropServices;

namespace LocalFeat.Cuda.Driver;

/// <summary>Entry to the CUDA driver API: loading and initialising it, error translation, device count.</summary>
public static unsafe class CudaDriver
{
    private static readonly Lazy<int> LazyInit = new(() =>
    {
        _ = NativeLibraries.Driver;
        Check(CudaDriverNative.cuInit(0), "cuInit");
        Check(CudaDriverNative.cuDriverGetVersion(out var v), "cuDriverGetVersion");
        return v;
    });

    /// <summary>
    /// Loads libcuda.so.1 and calls <c>cuInit</c> once per process. Throws <see cref="NativeLibraryMissingException"/>
    /// without a driver and <see cref="CudaException"/> (e.g. CUDA_ERROR_NO_DEVICE) when initialisation fails.
    /// </summary>
    public static void Initialize() => _ = LazyInit.Value;

    /// <summary>Driver version as cuda.h encodes it (1000·major + 10·minor, e.g. 12040).</summary>
    public static int Version => LazyInit.Value;

    /// <summary>Number of CUDA devices (initialises the driver).</summary>
    public static int DeviceCount
    {
        get
        {
            Initialize();
            Check(CudaDriverNative.cuDeviceGetCount(out var n), "cuDeviceGetCount");
            return n;
        }
    }

    /// <summary>
    /// Whether a driver and at least one device are usable; <paramref name="reason"/> says why not
    /// (e.g. "no CUDA driver (libcuda.so.1 not found)"). Never throws.
    /// </summary>
    public static bool IsDeviceAvailable(out string reason)
    {
        if (!NativeLibraries.TryDriver(out _))
        {
            reason = "no CUDA driver (libcuda.so.1 not found)";
            return false;
        }
        try
        {
            if (DeviceCount == 0)
            {
                reason = "CUDA driver loaded but no CUDA device present";
                return false;
            }
        }
        catch (CudaException e)
        {
            reason = $"CUDA driver unusable: {e.Message}";
            return false;
        }
        reason = "";
        return true;
    }

    /// <summary>"CUDA_ERROR_INVALID_IMAGE (device kernel image is invalid)" for a CUresult.</summary>
    public static string Describe(int result)
    {
        var name = CudaDriverNative.cuGetErrorName(result, out var n) == 0 && n != null
            ? Marshal.PtrToStringUTF8((IntPtr)n)
            : null;
        var text = CudaDriverNative.cuGetErrorString(result, out var t) == 0 && t != null
            ? Marshal.PtrToStringUTF8((IntPtr)t)
            : null;
        return $"{name ?? $"CUresult {result}"}{(text is null ? "" : $" ({text})")}";
    }

    /// <summary>Throws <see cref="CudaException"/> "call: CUDA_ERROR_X (text)" when <paramref name="result"/> is not CUDA_SUCCESS.</summary>
    internal static void Check(int result, string call)
    {
        if (result != 0)
            throw new CudaDriverException(call, result, Describe(result));
    }
}

/// <summary>A CUDA driver call returned an error: carries the call and the CUresult.</summary>
public sealed class CudaDriverException : CudaException
{
    public CudaDriverException(string call, int result, string description)
        : base($"{call}: {description}")
    {
        Call = call;
        Result = result;
    }

    public string Call { get; }

    /// <summary>The CUresult value (e.g. 200 = CUDA_ERROR_INVALID_IMAGE).</summary>
    public int Result { get; }
}
