using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LocalFeat.Torch.IO;

/// <summary>
/// The safetensors format (8-byte little-endian header length, JSON header, raw little-endian data),
/// readable by the Python <c>safetensors</c> package. Writes are atomic: a temp file renamed over the target.
/// </summary>
public static class Safetensors
{
    private static readonly Dictionary<ScalarType, string> Names = new()
    {
        [ScalarType.Float32] = "F32", [ScalarType.Float64] = "F64", [ScalarType.Float16] = "F16",
        [ScalarType.Int64] = "I64", [ScalarType.Int32] = "I32", [ScalarType.Int16] = "I16",
        [ScalarType.Int8] = "I8", [ScalarType.UInt8] = "U8", [ScalarType.Bool] = "BOOL",
    };

    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata) meta[k] = v;
            header["__metadata__"] = meta;
        }
        var blobs = new List<byte[]>();
        long offset = 0;
        foreach (var (name, t) in tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (name == "__metadata__") throw new ArgumentException("'__metadata__' is reserved in safetensors", nameof(tensors));
            var dtype = t.dtype;
            if (!Names.TryGetValue(dtype, out string? code)) throw new ArgumentException($"tensor '{name}': dtype {dtype} not supported", nameof(tensors));
            byte[] bytes = Bytes(t, dtype);
            header[name] = new JsonObject
            {
                ["dtype"] = code,
                ["shape"] = new JsonArray(t.shape.Select(s => (JsonNode)s).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes.Length),
            };
            blobs.Add(bytes);
            offset += bytes.Length;
        }
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(header);
        int pad = (8 - json.Length % 8) % 8;  // data aligned to 8 bytes, padded with spaces as the spec allows
        string full = Path.GetFullPath(path);
        string tmp = full + ".tmp-" + Environment.ProcessId;
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)(json.Length + pad));
            fs.Write(len);
            fs.Write(json);
            for (int i = 0; i < pad; i++) fs.WriteByte((byte)' ');
            foreach (var b in blobs) fs.Write(b);
            fs.Flush(flushToDisk: true);
        }
        File.Move(tmp, full, overwrite: true);
    }

    public static Dictionary<string, Tensor> Load(string path) => Load(path, out _);

    public static Dictionary<string, Tensor> Load(string path, out Dictionary<string, string> metadata)
    {
        byte[] file = File.ReadAllBytes(path);
        if (file.Length < 8) throw new InvalidDataException($"'{path}' is not a safetensors file (only {file.Length} bytes)");
        ulong headerLen = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (headerLen > (ulong)(file.Length - 8)) throw new InvalidDataException($"'{path}': header length {headerLen} exceeds the file size {file.Length}");
        JsonObject header;
        try { header = JsonNode.Parse(file.AsSpan(8, (int)headerLen))!.AsObject(); }
        catch (JsonException e) { throw new InvalidDataException($"'{path}': corrupt safetensors header: {e.Message}", e); }
        metadata = new Dictionary<string, string>();
        var result = new Dictionary<string, Tensor>();
        long dataStart = 8 + (long)headerLen;
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                foreach (var (k, v) in node!.AsObject()) metadata[k] = v!.GetValue<string>();
                continue;
            }
            string code = node!["dtype"]!.GetValue<string>();
            var dtype = Names.FirstOrDefault(kv => kv.Value == code).Key;
            if (!Names.ContainsKey(dtype) || Names[dtype] != code) throw new InvalidDataException($"'{path}': tensor '{name}' has unsupported dtype {code}");
            long[] shape = node["shape"]!.AsArray().Select(s => s!.GetValue<long>()).ToArray();
            var offsets = node["data_offsets"]!.AsArray().Select(s => s!.GetValue<long>()).ToArray();
            long begin = dataStart + offsets[0], end = dataStart + offsets[1];
            long expected = shape.Aggregate(1L, (a, b) => a * b) * dtype.ElementSize();
            if (offsets[0] < 0 || end > file.Length || end - begin != expected)
                throw new InvalidDataException($"'{path}': tensor '{name}' has data offsets [{offsets[0]}, {offsets[1]}] that do not fit its shape or the file");
            result[name] = FromBytes(file.AsSpan((int)begin, (int)(end - begin)), dtype, shape);
        }
        return result;
    }

    private static byte[] Bytes(Tensor t, ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => AsBytes(t.ToArray<float>()),
        ScalarType.Float64 => AsBytes(t.ToArray<double>()),
        ScalarType.Float16 => AsBytes(t.ToArray<Half>()),
        ScalarType.Int64 => AsBytes(t.ToArray<long>()),
        ScalarType.Int32 => AsBytes(t.ToArray<int>()),
        ScalarType.Int16 => AsBytes(t.ToArray<short>()),
        ScalarType.Int8 => AsBytes(t.ToArray<sbyte>()),
        ScalarType.UInt8 => t.ToArray<byte>(),
        ScalarType.Bool => AsBytes(t.ToArray<bool>()),
        _ => throw new ArgumentException($"dtype {dtype} not supported"),
    };

    private static byte[] AsBytes<T>(T[] data) where T : unmanaged =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()).ToArray();

    private static Tensor FromBytes(ReadOnlySpan<byte> bytes, ScalarType dtype, long[] shape) => dtype switch
    {
        ScalarType.Float32 => torch.tensor(Cast<float>(bytes), shape),
        ScalarType.Float64 => torch.tensor(Cast<double>(bytes), shape),
        ScalarType.Float16 => torch.tensor(Cast<Half>(bytes), shape),
        ScalarType.Int64 => torch.tensor(Cast<long>(bytes), shape),
        ScalarType.Int32 => torch.tensor(Cast<int>(bytes), shape),
        ScalarType.Int16 => torch.tensor(Cast<short>(bytes), shape),
        ScalarType.Int8 => torch.tensor(Cast<sbyte>(bytes), shape),
        ScalarType.UInt8 => torch.tensor(bytes, shape),
        ScalarType.Bool => torch.tensor(Cast<bool>(bytes), shape),
        _ => throw new InvalidDataException($"dtype {dtype} not supported"),
    };

    private static ReadOnlySpan<T> Cast<T>(ReadOnlySpan<byte> bytes) where T : unmanaged =>
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(bytes);
}
