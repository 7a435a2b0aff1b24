#!/usr/bin/env python3
"""Marks one version requirement of an ELF64 shared library as weak (VER_FLG_WEAK in its Vernaux entry).

usage: elf_weaken_version.py LIB VERSION      e.g. libLibTorchSharp.so GLIBCXX_3.4.32

The dynamic loader then accepts the library where the system's libstdc++ lacks VERSION, as long as no
symbol still references it (scripts/patch-torchsharp.sh clears that symbol's version first).
Prints what it changed; exits 1 when the library has no such requirement.
"""
import struct
import sys

VER_FLG_WEAK = 0x2


def main(path: str, version: str) -> int:
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            sys.exit(f"{path}: not a little-endian ELF64 file")
        shoff, = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
        sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
        SHT_GNU_verneed = 0x6FFFFFFE
        for sh in sections:
            if sh[1] != SHT_GNU_verneed:
                continue
            strtab_off = sections[sh[6]][4]  # sh_link: the dynamic string table
            name_at = lambda off: data[strtab_off + off:data.index(0, strtab_off + off)].decode()
            need = sh[4]
            for _ in range(sh[7]):  # sh_info: number of Verneed entries
                _, cnt, vn_file, aux, nxt = struct.unpack_from("<HHIII", data, need)
                vna = need + aux
                for _ in range(cnt):
                    _, flags, other, vna_name, vna_next = struct.unpack_from("<IHHII", data, vna)
                    if name_at(vna_name) == version:
                        struct.pack_into("<H", data, vna + 4, flags | VER_FLG_WEAK)
                        f.seek(0)
                        f.write(data)
                        print(f"{path}: {version} (from {name_at(vn_file)}) marked weak")
                        return 0
                    vna += vna_next
                need += nxt
    print(f"{path}: no requirement of {version}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
