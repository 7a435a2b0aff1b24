using System.Text;

namespace LocalFeat.Cuda.Driver;

/// <summary>A CUDA device and the attributes LocalFeat needs to compile for it and validate launches.</summary>
public sealed unsafe class CudaDevice
{
    private CudaDevice(int ordinal, int handle)
    {
        Ordinal = ordinal;
        Handle = handle;
        var name = stackalloc byte[256];
        CudaDriver.Check(CudaDriverNative.cuDeviceGetName(name, 256, handle), "cuDeviceGetName");
        var span = new ReadOnlySpan<byte>(name, 256);
        var len = span.IndexOf((byte)0);
        Name = Encoding.UTF8.GetString(len < 0 ? span : span[..len]);
        ComputeCapability = (Attribute(CuDeviceAttribute.ComputeCapabilityMajor), Attribute(CuDeviceAttribute.ComputeCapabilityMinor));
        MultiprocessorCount = Attribute(CuDeviceAttribute.MultiprocessorCount);
        MaxThreadsPerBlock = Attribute(CuDeviceAttribute.MaxThreadsPerBlock);
        MaxBlockDim = new Dim3((uint)Attribute(CuDeviceAttribute.MaxBlockDimX), (uint)Attribute(CuDeviceAttribute.MaxBlockDimY), (uint)Attribute(CuDeviceAttribute.MaxBlockDimZ));
        MaxGridDim = new Dim3((uint)Attribute(CuDeviceAttribute.MaxGridDimX), (uint)Attribute(CuDeviceAttribute.MaxGridDimY), (uint)Attribute(CuDeviceAttribute.MaxGridDimZ));
        MaxSharedMemoryPerBlock = Attribute(CuDeviceAttribute.MaxSharedMemoryPerBlock);
        MaxSharedMemoryPerBlockOptin = Attribute(CuDeviceAttribute.MaxSharedMemoryPerBlockOptin);
        WarpSize = Attribute(CuDeviceAttribute.WarpSize);
        CudaDriver.Check(CudaDriverNative.cuDeviceTotalMem_v2(out var total, handle), "cuDeviceTotalMem");
        TotalMemory = total;
    }

    /// <summary>Device <paramref name="ordinal"/> (0-based); initialises the driver.</summary>
    public static CudaDevice Get(int ordinal)
    {
        var count = CudaDriver.DeviceCount;
        if (ordinal < 0 || ordinal >= count)
            throw new ArgumentOutOfRangeException(nameof(ordinal), ordinal, $"CUDA device ordinal must be in [0, {count})");
        CudaDriver.Check(CudaDriverNative.cuDeviceGet(out var handle, ordinal), "cuDeviceGet");
        return new CudaDevice(ordinal, handle);
    }

    public int Ordinal { get; }

    /// <summary>The CUdevice value.</summary>
    public int Handle { get; }

    public string Name { get; }
    public (int Major, int Minor) ComputeCapability { get; }

    /// <summary>10·major + minor, e.g. 90 for sm_90.</summary>
    public int Arch => 10 * ComputeCapability.Major + ComputeCapability.Minor;

    public int MultiprocessorCount { get; }
    public int MaxThreadsPerBlock { get; }
    public Dim3 MaxBlockDim { get; }
    public Dim3 MaxGridDim { get; }

    /// <summary>Shared memory per block without opt-in (48 KiB).</summary>
    public int MaxSharedMemoryPerBlock { get; }

    /// <summary>Shared memory per block a kernel can opt into with CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES.</summary>
    public int MaxSharedMemoryPerBlockOptin { get; }

    public int WarpSize { get; }
    public ulong TotalMemory { get; }

    /// <summary>Any device attribute.</summary>
    public int Attribute(CuDeviceAttribute attribute)
    {
        CudaDriver.Check(CudaDriverNative.cuDeviceGetAttribute(out var v, attribute, Handle), $"cuDeviceGetAttribute({attribute})");
        return v;
    }

    public override string ToString() => $"cuda:{Ordinal} {Name} (sm_{Arch}, {MultiprocessorCount} SMs)";
}
