using LocalFeat.Torch.Interop;

namespace LocalFeat.Torch.IO;

/// <summary>8-bit image files through OpenCV.</summary>
public static class Image
{
    /// <summary>Reads an image as uint8 [H,W] (gray) or [H,W,3] (RGB). Throws <see cref="TorchException"/> naming the file when unreadable.</summary>
    public static Tensor Read(string path, bool color = false)
    {
        Native.Check(Native.lft_image_read(path, color ? 1 : 0, out IntPtr h));
        return new Tensor(h);
    }

    /// <summary>Writes uint8 [H,W] or [H,W,3] (RGB); the format follows the extension (.png, .jpg).</summary>
    public static void Write(string path, Tensor image) => Native.Check(Native.lft_image_write(path, image.Handle));
}
