using System.Globalization;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;

namespace LocalFeat.Train.Reporting;

/// <summary>NumPy .npz files (a zip of .npy arrays, format 1.0, little-endian), as <c>numpy.savez</c> writes them.</summary>
public static class Npz
{
    /// <summary>An array: float32 or int64 data with its shape.</summary>
    public sealed record Array(System.Array Data, long[] Shape);

    public static Array Of(float[] data, params long[] shape) => new(data, shape);

    /// <summary>Writes atomically (temp file, then rename).</summary>
    public static void Write(string path, IReadOnlyDictionary<string, Array> arrays)
    {
        string tmp = path + ".tmp-" + Environment.ProcessId;
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        {
            using (var zip = new ZipArchive(fs, ZipArchiveMode.Create, leaveOpen: true))
            {
                foreach (var (name, a) in arrays)
                {
                    var entry = zip.CreateEntry(name + ".npy", CompressionLevel.NoCompression);
                    using var s = entry.Open();
                    WriteNpy(s, a);
                }
            }
            fs.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    public static void WriteNpy(Stream s, Array a)
    {
        long n = a.Shape.Aggregate(1L, (x, y) => x * y);
        if (n != a.Data.Length) throw new ArgumentException($"shape ({string.Join(", ", a.Shape)}) needs {n} elements, data has {a.Data.Length}");
        string descr = a.Data switch { float[] => "<f4", long[] => "<i8", double[] => "<f8", int[] => "<i4", _ => throw new ArgumentException($"unsupported element type {a.Data.GetType()}") };
        string shape = a.Shape.Length == 1 ? $"({a.Shape[0].ToString(CultureInfo.InvariantCulture)},)" : "(" + string.Join(", ", a.Shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + ")";
        string header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";
        // magic (6) + version (2) + length (2) + header, padded with spaces to a multiple of 64, ending in '\n'.
        int total = 10 + header.Length + 1;
        header += new string(' ', (64 - total % 64) % 64) + "\n";
        s.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        s.Write(BitConverter.GetBytes((ushort)header.Length));
        s.Write(Encoding.ASCII.GetBytes(header));
        ReadOnlySpan<byte> bytes = a.Data switch
        {
            float[] f => MemoryMarshal.AsBytes(f.AsSpan()),
            long[] l => MemoryMarshal.AsBytes(l.AsSpan()),
            double[] d => MemoryMarshal.AsBytes(d.AsSpan()),
            int[] i => MemoryMarshal.AsBytes(i.AsSpan()),
            _ => throw new ArgumentException("unsupported element type"),
        };
        s.Write(bytes);
    }
}
