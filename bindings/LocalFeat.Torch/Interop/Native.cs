using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LocalFeat.Torch.Interop;

internal enum LftKind
{
    None = 0, Tensor = 1, TensorList = 2, Int = 3, IntList = 4, Double = 5, DoubleList = 6, Bool = 7,
    String = 8, Generator = 9, Device = 10,
}

[StructLayout(LayoutKind.Explicit)]
internal struct LftValue
{
    [FieldOffset(0)] public int Kind;
    [FieldOffset(4)] public int Len;
    [FieldOffset(8)] public long I;
    [FieldOffset(8)] public double D;
    [FieldOffset(8)] public IntPtr P;
    [FieldOffset(16)] public IntPtr Name;
}

[StructLayout(LayoutKind.Sequential)]
internal struct LftTensorInfo
{
    public int Defined, Dtype, DeviceType, DeviceIndex, Ndim, RequiresGrad, IsLeaf, IsContiguous;
    public long Numel;
    public IntPtr Data;
}

/// <summary>P/Invoke surface of liblocalfeat_torch.so (see bindings/LocalFeat.Torch/native/lft.h).</summary>
internal static unsafe partial class Native
{
    public const string Lib = "localfeat_torch";

    /// <summary>Turns a -1 status into a <see cref="TorchException"/> carrying libtorch's message.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Check(int status)
    {
        if (status != 0) Throw();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Throw() => throw new TorchException(Marshal.PtrToStringUTF8(lft_last_error()) ?? "unknown error");

    // Runs before the first P/Invoke of this class, so the library is resolved our way.
    static Native() => NativeLibrary.SetDllImportResolver(typeof(Native).Assembly, Resolve);

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name != Lib) return IntPtr.Zero;
        string file = "lib" + Lib + ".so";
        foreach (string dir in SearchDirectories())
        {
            string candidate = Path.Combine(dir, file);
            if (File.Exists(candidate)) return NativeLibrary.Load(candidate);
        }
        throw new DllNotFoundException(
            $"{file} not found; searched {string.Join(", ", SearchDirectories())}. Run scripts/setup.sh to build it.");
    }

    // Next to the assemblies (copied by the build), else the CMake output of the source tree.
    internal static IEnumerable<string> SearchDirectories()
    {
        yield return AppContext.BaseDirectory;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LocalFeat.sln")))
            {
                yield return Path.Combine(dir.FullName, "build", "native", "lib");
                yield break;
            }
        }
    }

    [LibraryImport(Lib)] public static partial IntPtr lft_last_error();
    [LibraryImport(Lib)] public static partial void lft_free(IntPtr p);

    [LibraryImport(Lib)] public static partial int lft_tensor_free(IntPtr t);
    [LibraryImport(Lib)] public static partial int lft_tensor_alias(IntPtr t, out IntPtr result);
    [LibraryImport(Lib)] public static partial int lft_tensor_from_data(void* data, long bytes, int dtype, long* shape, int ndim, out IntPtr result);
    [LibraryImport(Lib)] public static partial int lft_tensor_copy_to(IntPtr t, void* dst, long bytes);
    [LibraryImport(Lib)] public static partial int lft_tensor_info(IntPtr t, out LftTensorInfo info);
    [LibraryImport(Lib)] public static partial int lft_tensor_shape(IntPtr t, long* sizes, long* strides);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] public static partial int lft_op_find(string name, string overload, out IntPtr op);
    [LibraryImport(Lib)] public static partial int lft_op_schema(IntPtr op, byte* buf, int len);
    [LibraryImport(Lib)] public static partial int lft_op_call(IntPtr op, LftValue* args, int nargs, LftValue* results, int maxResults, out int nresults);

    [LibraryImport(Lib)] public static partial int lft_set_requires_grad(IntPtr t, int requiresGrad);
    [LibraryImport(Lib)] public static partial int lft_tensor_grad(IntPtr t, out IntPtr grad);
    [LibraryImport(Lib)] public static partial int lft_tensor_set_grad(IntPtr t, IntPtr grad);
    [LibraryImport(Lib)] public static partial int lft_backward(IntPtr* tensors, IntPtr* grads, int n, int retainGraph, int createGraph);
    [LibraryImport(Lib)] public static partial int lft_autograd_grad(IntPtr* outputs, IntPtr* gradOutputs, int noutputs, IntPtr* inputs, int ninputs, int retainGraph, int createGraph, int allowUnused, IntPtr* result);
    [LibraryImport(Lib)] public static partial int lft_grad_enabled();
    [LibraryImport(Lib)] public static partial void lft_set_grad_enabled(int enabled);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] public static partial void lft_set_callback_error(string message);
    [LibraryImport(Lib)] public static partial int lft_function_register(
        delegate* unmanaged<IntPtr, IntPtr, IntPtr*, int, IntPtr*, int, int*, int> forward,
        delegate* unmanaged<IntPtr, IntPtr, IntPtr*, int, IntPtr*, int, int> backward,
        delegate* unmanaged<IntPtr, void> release);
    [LibraryImport(Lib)] public static partial int lft_function_apply(IntPtr state, IntPtr* inputs, int ninputs, IntPtr* outputs, int maxOutputs, out int noutputs);
    [LibraryImport(Lib)] public static partial int lft_ctx_save_for_backward(IntPtr ctx, IntPtr* tensors, int n);
    [LibraryImport(Lib)] public static partial int lft_ctx_saved(IntPtr ctx, IntPtr* result, int max, out int n);
    [LibraryImport(Lib)] public static partial int lft_ctx_mark_non_differentiable(IntPtr ctx, IntPtr* tensors, int n);
    [LibraryImport(Lib)] public static partial int lft_ctx_needs_input_grad(IntPtr ctx, int index, out int needs);

    [LibraryImport(Lib)] public static partial int lft_manual_seed(ulong seed);
    [LibraryImport(Lib)] public static partial int lft_generator_new(ulong seed, out IntPtr g);
    [LibraryImport(Lib)] public static partial int lft_generator_free(IntPtr g);
    [LibraryImport(Lib)] public static partial int lft_generator_get_state(IntPtr g, out IntPtr state);
    [LibraryImport(Lib)] public static partial int lft_generator_set_state(IntPtr g, IntPtr state);
    [LibraryImport(Lib)] public static partial int lft_default_generator(out IntPtr g);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] public static partial int lft_load_state_dict(string path, out IntPtr names, out IntPtr tensors, out int n);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] public static partial int lft_image_read(string path, int color, out IntPtr result);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] public static partial int lft_image_write(string path, IntPtr image);

    [LibraryImport(Lib)] public static partial int lft_system_report(byte* buf, int len);
    [LibraryImport(Lib)] public static partial int lft_set_num_threads(int n);
    [LibraryImport(Lib)] public static partial int lft_get_num_threads();
}
