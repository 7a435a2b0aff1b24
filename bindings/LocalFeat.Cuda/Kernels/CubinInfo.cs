using System.Buffers.Binary;
using System.Text;

namespace LocalFeat.Cuda.Kernels;

/// <summary>Per-kernel facts read from a CUBIN's ELF: register count and stack frame size.</summary>
public sealed record CubinKernel(string Name, int Registers, int FrameBytes);

/// <summary>
/// Reads the kernels of a CUBIN (64-bit little-endian ELF) without the driver: entry symbols (STO_CUDA_ENTRY)
/// and the <c>.nv.info</c> attributes EIATTR_REGCOUNT and EIATTR_FRAME_SIZE. Spill bytes are not stored in
/// the ELF (only in the ptxas log); this is the independent check of the register counts parsed from the log.
/// </summary>
public static class CubinInfo
{
    private const byte StoCudaEntry = 0x10;
    private const byte EifmtSval = 0x04;
    private const byte EiattrFrameSize = 0x11;
    private const byte EiattrRegcount = 0x2f;

    public static IReadOnlyList<CubinKernel> Read(ReadOnlySpan<byte> elf)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new FormatException("not an ELF image");
        if (elf[4] != 2 || elf[5] != 1)
            throw new FormatException("CUBIN must be a 64-bit little-endian ELF");

        var shoff = checked((int)U64(elf, 0x28));
        var shentsize = U16(elf, 0x3a);
        var shnum = U16(elf, 0x3c);
        var shstrndx = U16(elf, 0x3e);
        var sections = new (string Name, uint Type, int Offset, int Size, uint Link)[shnum];
        var raw = new (uint NameOff, uint Type, int Offset, int Size, uint Link)[shnum];
        for (var i = 0; i < shnum; i++)
        {
            var h = elf.Slice(shoff + i * shentsize, shentsize);
            raw[i] = (U32(h, 0), U32(h, 4), checked((int)U64(h, 0x18)), checked((int)U64(h, 0x20)), U32(h, 0x28));
        }
        var shstr = raw[shstrndx];
        for (var i = 0; i < shnum; i++)
            sections[i] = (CString(elf, shstr.Offset + (int)raw[i].NameOff), raw[i].Type, raw[i].Offset, raw[i].Size, raw[i].Link);

        var symtab = Array.Find(sections, s => s.Type == 2); // SHT_SYMTAB
        if (symtab.Name is null)
            throw new FormatException("CUBIN has no symbol table");
        var strtab = sections[symtab.Link];
        var symbols = new List<(string Name, byte Info, byte Other)>();
        for (var off = symtab.Offset; off + 24 <= symtab.Offset + symtab.Size; off += 24)
            symbols.Add((CString(elf, strtab.Offset + (int)U32(elf, off)), elf[off + 4], elf[off + 5]));

        var regs = new Dictionary<int, int>();
        var frames = new Dictionary<int, int>();
        foreach (var s in sections.Where(s => s.Name == ".nv.info"))
        {
            var p = s.Offset;
            var end = s.Offset + s.Size;
            while (p + 4 <= end)
            {
                var fmt = elf[p];
                var attr = elf[p + 1];
                if (fmt != EifmtSval)
                {
                    p += 4; // EIFMT_NVAL/BVAL/HVAL records are 4 bytes
                    continue;
                }
                var size = U16(elf, p + 2);
                if (size >= 8 && (attr == EiattrRegcount || attr == EiattrFrameSize))
                {
                    var sym = (int)U32(elf, p + 4);
                    var value = (int)U32(elf, p + 8);
                    (attr == EiattrRegcount ? regs : frames)[sym] = value;
                }
                p += 4 + size;
            }
        }

        var kernels = new List<CubinKernel>();
        for (var i = 0; i < symbols.Count; i++)
        {
            if ((symbols[i].Info & 0xf) != 2 || (symbols[i].Other & StoCudaEntry) == 0) // STT_FUNC + entry
                continue;
            kernels.Add(new CubinKernel(symbols[i].Name, regs.GetValueOrDefault(i, -1), frames.GetValueOrDefault(i, 0)));
        }
        return kernels;
    }

    private static ushort U16(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt16LittleEndian(b[o..]);
    private static uint U32(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt32LittleEndian(b[o..]);
    private static ulong U64(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt64LittleEndian(b[o..]);

    private static string CString(ReadOnlySpan<byte> b, int o)
    {
        var len = b[o..].IndexOf((byte)0);
        return Encoding.ASCII.GetString(b.Slice(o, len < 0 ? b.Length - o : len));
    }
}
