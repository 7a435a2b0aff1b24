using System.Runtime.InteropServices;

namespace LocalFeat.Train.Distributed;

/// <summary>P/Invoke of liblocalfeat_gloo.so (native/gloo/gloo_capi.cpp): 0 = success, else err holds the reason.</summary>
internal static unsafe partial class GlooNative
{
    private const string Lib = "localfeat_gloo";
    public const int ErrorLength = 1024;

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int lfg_create(int rank, int size, string kind, string where, int port, string prefix, string host,
        string iface, long timeoutMs, out IntPtr group, byte* err, int errlen);

    [LibraryImport(Lib)]
    public static partial void lfg_destroy(IntPtr group);

    [LibraryImport(Lib)]
    public static partial int lfg_allreduce_f32(IntPtr group, float* data, long count, long timeoutMs, byte* err, int errlen);

    [LibraryImport(Lib)]
    public static partial int lfg_broadcast(IntPtr group, void* data, long bytes, int root, long timeoutMs, byte* err, int errlen);

    [LibraryImport(Lib)]
    public static partial int lfg_barrier(IntPtr group, long timeoutMs, byte* err, int errlen);

    [LibraryImport(Lib)]
    public static partial int lfg_allgather(IntPtr group, void* input, long bytes, void* output, long timeoutMs, byte* err, int errlen);
}
