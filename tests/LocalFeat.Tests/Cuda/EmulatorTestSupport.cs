using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LocalFeat.Tests.Cuda;

/// <summary>
/// cuLaunchKernel's argument array for host launches: each value lives in its own 8-byte native slot
/// and <see cref="Pointers"/>[i] points at slot i.
/// </summary>
internal sealed unsafe class KernelArgs : IDisposable
{
    private const int Capacity = 16;
    private readonly ulong* _values = (ulong*)NativeMemory.AllocZeroed(Capacity, sizeof(ulong));
    private readonly void** _pointers = (void**)NativeMemory.AllocZeroed(Capacity, (nuint)sizeof(void*));
    private int _count;

    public void** Pointers => _pointers;

    public KernelArgs Add<T>(T value) where T : unmanaged
    {
        if (sizeof(T) > sizeof(ulong) || _count == Capacity)
            throw new InvalidOperationException("KernelArgs holds up to 16 values of at most 8 bytes");
        *(T*)(_values + _count) = value;
        _pointers[_count] = _values + _count;
        _count++;
        return this;
    }

    public KernelArgs Ptr<T>(T[] pinnedArray) where T : unmanaged => Add((IntPtr)Emu.Address(pinnedArray));

    public void Dispose()
    {
        NativeMemory.Free(_values);
        NativeMemory.Free(_pointers);
    }
}

internal static unsafe class Emu
{
    /// <summary>An array on the pinned object heap: its address is stable, so kernels can use it directly.</summary>
    public static T[] Pinned<T>(int length) where T : unmanaged => GC.AllocateArray<T>(length, pinned: true);

    public static T[] Pinned<T>(IEnumerable<T> values) where T : unmanaged
    {
        var list = values.ToArray();
        var a = Pinned<T>(list.Length);
        list.CopyTo(a, 0);
        return a;
    }

    public static void* Address<T>(T[] pinnedArray) where T : unmanaged =>
        Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinnedArray));

    /// <summary>Integer-valued floats in [lo, hi]: every sum in the tests is exact in float32.</summary>
    public static float[] IntegerFloats(int n, int seed, int lo = -50, int hi = 50)
    {
        var rng = new Random(seed);
        var a = Pinned<float>(n);
        for (var i = 0; i < n; i++)
            a[i] = rng.Next(lo, hi + 1);
        return a;
    }
}
