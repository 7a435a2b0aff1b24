using System.Runtime.InteropServices;

namespace LocalFeat.Cuda.Driver;

/// <summary>
/// A retained primary context of a device (the context the CUDA runtime and libtorch use, so their device
/// pointers and streams are valid here). Released with <c>cuDevicePrimaryCtxRelease</c>.
/// </summary>
public sealed class PrimaryContext : SafeHandle
{
    private PrimaryContext(int device) : base(IntPtr.Zero, ownsHandle: true) => Device = device;

    public int Device { get; }

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Retains the primary context of <paramref name="device"/> (a CUdevice).</summary>
    public static PrimaryContext Retain(CudaDevice device)
    {
        var ctx = new PrimaryContext(device.Handle);
        CudaDriver.Check(CudaDriverNative.cuDevicePrimaryCtxRetain(out var raw, device.Handle), "cuDevicePrimaryCtxRetain");
        ctx.SetHandle(raw);
        return ctx;
    }

    /// <summary>Makes this context current on the calling thread if it is not already (cuCtxGetCurrent + cuCtxSetCurrent).</summary>
    public void MakeCurrent()
    {
        CudaDriver.Check(CudaDriverNative.cuCtxGetCurrent(out var current), "cuCtxGetCurrent");
        if (current != handle)
            CudaDriver.Check(CudaDriverNative.cuCtxSetCurrent(handle), "cuCtxSetCurrent");
    }

    /// <summary>Waits for all work in the context (cuCtxSynchronize).</summary>
    public void Synchronize()
    {
        MakeCurrent();
        CudaDriver.Check(CudaDriverNative.cuCtxSynchronize(), "cuCtxSynchronize");
    }

    protected override bool ReleaseHandle() => CudaDriverNative.cuDevicePrimaryCtxRelease_v2(Device) == 0;
}

/// <summary>
/// Runs a release call with a context current: driver objects (memory, modules, streams, events) are freed in
/// the context that made them, also from the finalizer thread, which has no current context.
/// </summary>
internal static class ContextScope
{
    public static bool Release(IntPtr context, Func<int> release)
    {
        if (CudaDriverNative.cuCtxPushCurrent_v2(context) != 0)
            return false;
        try
        {
            return release() == 0;
        }
        finally
        {
            CudaDriverNative.cuCtxPopCurrent_v2(out _);
        }
    }
}

/// <summary>A loaded CUmodule (CUBIN or PTX); unloaded with cuModuleUnload.</summary>
public sealed unsafe class CudaModule : SafeHandle
{
    private readonly PrimaryContext _context;

    private CudaModule(PrimaryContext context) : base(IntPtr.Zero, ownsHandle: true) => _context = context;

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>
    /// cuModuleLoadDataEx on <paramref name="image"/> (a CUBIN, or PTX text with its trailing NUL) in
    /// <paramref name="context"/>, which is made current. <paramref name="what"/> names the image in errors.
    /// </summary>
    public static CudaModule Load(PrimaryContext context, byte[] image, string what)
    {
        context.MakeCurrent();
        var module = new CudaModule(context);
        // cuModuleLoadDataEx with an error log buffer: for PTX the JIT compiler's message says what failed.
        const int CuJitErrorLogBuffer = 5, CuJitErrorLogBufferSizeBytes = 6, LogSize = 8192;
        var log = new byte[LogSize];
        IntPtr raw;
        int rc;
        fixed (byte* p = image)
        fixed (byte* l = log)
        {
            var options = stackalloc int[] { CuJitErrorLogBuffer, CuJitErrorLogBufferSizeBytes };
            var values = stackalloc void*[] { l, (void*)(nint)LogSize };
            rc = CudaDriverNative.cuModuleLoadDataEx(out raw, p, 2, options, values);
        }
        if (rc != 0)
        {
            var len = Array.IndexOf(log, (byte)0);
            var jit = System.Text.Encoding.UTF8.GetString(log, 0, len < 0 ? log.Length : len).Trim();
            throw new CudaDriverException($"cuModuleLoadData({what})", rc,
                CudaDriver.Describe(rc) + (jit.Length > 0 ? $"; JIT log: {jit}" : ""));
        }
        // Keep the context alive as long as a module in it exists.
        var added = false;
        context.DangerousAddRef(ref added);
        module.SetHandle(raw);
        return module;
    }

    /// <summary>The CUfunction of an <c>extern "C"</c> kernel; valid while the module is loaded.</summary>
    public IntPtr GetFunction(string name)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(name + "\0");
        IntPtr f;
        int rc;
        fixed (byte* p = bytes)
            rc = CudaDriverNative.cuModuleGetFunction(out f, handle, p);
        if (rc != 0)
            throw new CudaDriverException($"cuModuleGetFunction({name})", rc, CudaDriver.Describe(rc));
        return f;
    }

    protected override bool ReleaseHandle()
    {
        var ok = ContextScope.Release(_context.DangerousGetHandle(), () => CudaDriverNative.cuModuleUnload(handle));
        _context.DangerousRelease();
        return ok;
    }
}

/// <summary>Device memory from cuMemAlloc; freed with cuMemFree. For standalone use and tests (ops use libtorch's allocator).</summary>
public sealed unsafe class DeviceMemory : SafeHandle
{
    private readonly PrimaryContext _context;

    private DeviceMemory(PrimaryContext context, ulong bytes) : base(IntPtr.Zero, ownsHandle: true)
    {
        _context = context;
        Bytes = bytes;
    }

    public ulong Bytes { get; }

    /// <summary>The CUdeviceptr.</summary>
    public ulong Pointer => (ulong)handle;

    public override bool IsInvalid => handle == IntPtr.Zero;

    public static DeviceMemory Allocate(PrimaryContext context, ulong bytes)
    {
        if (bytes == 0)
            throw new ArgumentOutOfRangeException(nameof(bytes), "cuMemAlloc: size must be positive");
        context.MakeCurrent();
        var mem = new DeviceMemory(context, bytes);
        CudaDriver.Check(CudaDriverNative.cuMemAlloc_v2(out var ptr, (nuint)bytes), $"cuMemAlloc({bytes} bytes)");
        var added = false;
        context.DangerousAddRef(ref added);
        mem.SetHandle((IntPtr)ptr);
        return mem;
    }

    /// <summary>Allocates and uploads <paramref name="data"/>.</summary>
    public static DeviceMemory FromHost<T>(PrimaryContext context, ReadOnlySpan<T> data) where T : unmanaged
    {
        var mem = Allocate(context, (ulong)(data.Length * sizeof(T)));
        mem.CopyFrom(data);
        return mem;
    }

    public void CopyFrom<T>(ReadOnlySpan<T> source) where T : unmanaged
    {
        var bytes = CheckedSize<T>(source.Length);
        _context.MakeCurrent();
        fixed (T* p = source)
            CudaDriver.Check(CudaDriverNative.cuMemcpyHtoD_v2(Pointer, p, bytes), "cuMemcpyHtoD");
    }

    public void CopyTo<T>(Span<T> destination) where T : unmanaged
    {
        var bytes = CheckedSize<T>(destination.Length);
        _context.MakeCurrent();
        fixed (T* p = destination)
            CudaDriver.Check(CudaDriverNative.cuMemcpyDtoH_v2(p, Pointer, bytes), "cuMemcpyDtoH");
    }

    public T[] ToArray<T>() where T : unmanaged
    {
        var result = new T[Bytes / (ulong)sizeof(T)];
        CopyTo<T>(result);
        return result;
    }

    /// <summary>Copies <paramref name="bytes"/> device-to-device from <paramref name="source"/>.</summary>
    public void CopyFrom(DeviceMemory source, ulong bytes)
    {
        if (bytes > Bytes || bytes > source.Bytes)
            throw new ArgumentOutOfRangeException(nameof(bytes), $"cuMemcpyDtoD: {bytes} bytes exceeds a buffer ({source.Bytes} -> {Bytes})");
        _context.MakeCurrent();
        CudaDriver.Check(CudaDriverNative.cuMemcpyDtoD_v2(Pointer, source.Pointer, (nuint)bytes), "cuMemcpyDtoD");
    }

    /// <summary>Sets every byte (cuMemsetD8).</summary>
    public void Fill(byte value)
    {
        _context.MakeCurrent();
        CudaDriver.Check(CudaDriverNative.cuMemsetD8_v2(Pointer, value, (nuint)Bytes), "cuMemsetD8");
    }

    /// <summary>Sets every 32-bit word (cuMemsetD32); the size must be a multiple of 4.</summary>
    public void Fill(uint value)
    {
        if (Bytes % 4 != 0)
            throw new InvalidOperationException($"cuMemsetD32: buffer of {Bytes} bytes is not a whole number of 32-bit words");
        _context.MakeCurrent();
        CudaDriver.Check(CudaDriverNative.cuMemsetD32_v2(Pointer, value, (nuint)(Bytes / 4)), "cuMemsetD32");
    }

    private nuint CheckedSize<T>(int count) where T : unmanaged
    {
        var bytes = (ulong)count * (ulong)sizeof(T);
        if (bytes > Bytes)
            throw new ArgumentOutOfRangeException(nameof(count), $"copy of {bytes} bytes exceeds the device buffer of {Bytes} bytes");
        return (nuint)bytes;
    }

    protected override bool ReleaseHandle()
    {
        var ptr = (ulong)handle;
        var ok = ContextScope.Release(_context.DangerousGetHandle(), () => CudaDriverNative.cuMemFree_v2(ptr));
        _context.DangerousRelease();
        return ok;
    }
}

/// <summary>A CUstream created by LocalFeat (ops normally run on libtorch's current stream instead).</summary>
public sealed class CudaStream : SafeHandle
{
    private readonly PrimaryContext _context;

    private CudaStream(PrimaryContext context) : base(IntPtr.Zero, ownsHandle: true) => _context = context;

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Creates a stream; <paramref name="nonBlocking"/> = CU_STREAM_NON_BLOCKING (no sync with the legacy default stream).</summary>
    public static CudaStream Create(PrimaryContext context, bool nonBlocking = true)
    {
        context.MakeCurrent();
        var s = new CudaStream(context);
        CudaDriver.Check(CudaDriverNative.cuStreamCreate(out var raw, nonBlocking ? 1u : 0u), "cuStreamCreate");
        var added = false;
        context.DangerousAddRef(ref added);
        s.SetHandle(raw);
        return s;
    }

    public void Synchronize() => CudaDriver.Check(CudaDriverNative.cuStreamSynchronize(handle), "cuStreamSynchronize");

    protected override bool ReleaseHandle()
    {
        var ok = ContextScope.Release(_context.DangerousGetHandle(), () => CudaDriverNative.cuStreamDestroy_v2(handle));
        _context.DangerousRelease();
        return ok;
    }
}

/// <summary>A CUevent, for timing work on a stream.</summary>
public sealed class CudaEvent : SafeHandle
{
    private readonly PrimaryContext _context;

    private CudaEvent(PrimaryContext context) : base(IntPtr.Zero, ownsHandle: true) => _context = context;

    public override bool IsInvalid => handle == IntPtr.Zero;

    public static CudaEvent Create(PrimaryContext context)
    {
        context.MakeCurrent();
        var e = new CudaEvent(context);
        CudaDriver.Check(CudaDriverNative.cuEventCreate(out var raw, 0 /* CU_EVENT_DEFAULT: timing enabled */), "cuEventCreate");
        var added = false;
        context.DangerousAddRef(ref added);
        e.SetHandle(raw);
        return e;
    }

    /// <summary>Records the event on <paramref name="stream"/> (IntPtr.Zero: the legacy default stream).</summary>
    public void Record(IntPtr stream) => CudaDriver.Check(CudaDriverNative.cuEventRecord(handle, stream), "cuEventRecord");

    public void Synchronize() => CudaDriver.Check(CudaDriverNative.cuEventSynchronize(handle), "cuEventSynchronize");

    /// <summary>Milliseconds between two recorded, completed events.</summary>
    public static float ElapsedMilliseconds(CudaEvent start, CudaEvent end)
    {
        CudaDriver.Check(CudaDriverNative.cuEventElapsedTime(out var ms, start.handle, end.handle), "cuEventElapsedTime");
        return ms;
    }

    protected override bool ReleaseHandle()
    {
        var ok = ContextScope.Release(_context.DangerousGetHandle(), () => CudaDriverNative.cuEventDestroy_v2(handle));
        _context.DangerousRelease();
        return ok;
    }
}
