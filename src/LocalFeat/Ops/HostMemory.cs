using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Ops;

/// <summary>Spans over the elements of contiguous CPU tensors, for the Cpu backends.</summary>
internal static unsafe class HostMemory
{
    public static Span<T> Span<T>(Tensor t) where T : unmanaged => new((void*)t.data_ptr(), checked((int)t.numel()));

    public static T* Pointer<T>(Tensor t) where T : unmanaged => (T*)t.data_ptr();
}
