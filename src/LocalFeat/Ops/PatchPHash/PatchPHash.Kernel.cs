using System.Collections.Concurrent;
using LocalFeat.Cuda;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace LocalFeat.Ops;

// Kernel backend: kernels/phash.cu's phash_u8 / phash_f32, one warp per patch, 8 patches per block of 256.
public static partial class PatchPHash
{
    private const int WarpsPerBlock = 8;

    /// <summary>The cosine table on each device, uploaded once (the CPU copy is pinned by the array itself).</summary>
    private static readonly ConcurrentDictionary<string, Tensor> DeviceTables = new();

    internal static unsafe Tensor KernelForward(Tensor images, Tensor keypoints, float spacing)
    {
        int b = (int)images.size(0), h = (int)images.size(2), w = (int)images.size(3), n = (int)keypoints.size(1);
        var device = images.device;
        var hash = torch.empty([b, n], ScalarType.Int64, device);
        long total = (long)b * n;
        if (total == 0) return hash;
        if ((total + WarpsPerBlock - 1) / WarpsPerBlock > int.MaxValue)
            throw new ArgumentException($"argument 'keypoints': the Kernel backend supports B·N < 2^34 patches, got {Validate.Describe(keypoints)}", nameof(keypoints));
        var table = DeviceTables.GetOrAdd(device.ToString(), _ => torch.tensor(Table, device: device).DetachFromDisposeScope());
        var rt = KernelRuntimes.For(images);
        void* img = (void*)images.data_ptr();
        float* kp = (float*)keypoints.data_ptr(), tab = (float*)table.data_ptr();
        long* output = (long*)hash.data_ptr();
        void** args = stackalloc void*[] { &img, &kp, &tab, &b, &n, &h, &w, &spacing, &output };
        rt.Launch(images.dtype == ScalarType.Byte ? "phash_u8" : "phash_f32", new Dim3((uint)((total + WarpsPerBlock - 1) / WarpsPerBlock)),
            new Dim3(WarpsPerBlock * 32), 0, IntPtr.Zero, args);
        return hash;
    }
}
