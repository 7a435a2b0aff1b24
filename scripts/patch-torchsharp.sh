#!/usr/bin/env bash
# Makes TorchSharp's native library load where the system libstdc++ is older than GCC 13 (Debian 12).
#
# libLibTorchSharp.so of TorchSharp 0.107 needs GLIBCXX_3.4.32 for one symbol only,
# std::ios_base_library_init() (GCC >= 13 calls it wherever <iostream> is included); Debian 12's
# libstdc++ stops at GLIBCXX_3.4.30. A copy of the library (never the NuGet cache's file) gets:
#   1. that symbol's version cleared (patchelf), so any definition satisfies it;
#   2. the GLIBCXX_3.4.32 requirement marked weak (elf_weaken_version.py), so the loader accepts it;
#   3. a DT_NEEDED on liblocalfeat_iosinit.so (found through its $ORIGIN runpath), which defines the symbol.
# Directory.Build.targets puts the copy over the original in every output folder.
#
# usage: patch-torchsharp.sh ORIGINAL_LIB SHIM_LIB OUT_DIR
# Where the system libstdc++ has GLIBCXX_3.4.32 (Debian 13, Ubuntu 24.04) it removes OUT_DIR's copy and
# does nothing else, unless LOCALFEAT_FORCE_PATCH=1 (scripts/pack.sh: the package carries the copy for
# consumers on Debian 12 wherever it is packed).
set -euo pipefail
original=$1 shim=$2 out=$3
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/native/torchsharp"
libstdcxx=$(ldconfig -p | awk '/libstdc\+\+\.so\.6 .*x86-64/ && !found {print $NF; found = 1}')
if [ "${LOCALFEAT_FORCE_PATCH:-0}" != 1 ] && [ -n "$libstdcxx" ] && grep -qa GLIBCXX_3.4.32 "$libstdcxx"; then
  rm -f "$out/libLibTorchSharp.so" "$out/liblocalfeat_iosinit.so"
  exit 0
fi
stamp="$out/.source"
want="$(sha256sum "$original" "$shim" "$0" "$here/elf_weaken_version.py" | sha256sum | cut -d' ' -f1)"
[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$out/libLibTorchSharp.so" ] && exit 0
mkdir -p "$out"
tmp="$out/libLibTorchSharp.so.tmp-$$"
cp "$original" "$tmp" && chmod u+w "$tmp"
patchelf --clear-symbol-version _ZSt21ios_base_library_initv "$tmp"
python3 "$here/elf_weaken_version.py" "$tmp" GLIBCXX_3.4.32 >/dev/null
patchelf --add-needed liblocalfeat_iosinit.so "$tmp"
cp "$shim" "$out/liblocalfeat_iosinit.so"
mv "$tmp" "$out/libLibTorchSharp.so"
echo "$want" > "$stamp"
