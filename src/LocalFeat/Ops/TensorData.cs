using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Ops;

/// <summary>
/// The address of a tensor's first element: a host pointer for CPU tensors, a device pointer for CUDA tensors
/// (what the Cpu backends read and the Kernel backend passes to a launch). TorchSharp exposes no such call,
/// so this asks its own native library, LibTorchSharp, already loaded by TorchSharp.
/// </summary>
internal static partial class TensorData
{
    [LibraryImport("LibTorchSharp")]
    private static partial IntPtr THSTensor_data(IntPtr tensor);

    /// <summary>As PyTorch's <c>Tensor.data_ptr()</c>: the storage offset included.</summary>
    public static IntPtr data_ptr(this Tensor t)
    {
        var p = THSTensor_data(t.Handle);
        GC.KeepAlive(t);
        torch.CheckForErrors();
        return p;
    }
}
