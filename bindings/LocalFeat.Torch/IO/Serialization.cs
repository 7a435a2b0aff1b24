using System.Runtime.InteropServices;
using LocalFeat.Torch.Interop;

namespace LocalFeat.Torch.IO;

/// <summary>PyTorch checkpoint files.</summary>
public static class Serialization
{
    /// <summary>
    /// Loads a file written by <c>torch.save(state_dict)</c> (a dict of tensors, nested dicts flattened to
    /// dotted names) through libtorch's <c>torch::pickle_load</c>.
    /// </summary>
    public static unsafe Dictionary<string, Tensor> LoadStateDict(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"state_dict file not found: '{path}'", path);
        Native.Check(Native.lft_load_state_dict(path, out IntPtr names, out IntPtr tensors, out int n));
        var result = new Dictionary<string, Tensor>(n);
        var namePtrs = (IntPtr*)names;
        var tensorPtrs = (IntPtr*)tensors;
        for (int i = 0; i < n; i++)
        {
            result[Marshal.PtrToStringUTF8(namePtrs[i])!] = new Tensor(tensorPtrs[i]);
            Native.lft_free(namePtrs[i]);
        }
        Native.lft_free(names);
        Native.lft_free(tensors);
        return result;
    }
}
