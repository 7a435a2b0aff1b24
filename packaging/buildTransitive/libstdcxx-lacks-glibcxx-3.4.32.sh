#!/bin/sh
# Exit 0 when the system's libstdc++ lacks GLIBCXX_3.4.32 (Debian 12: GCC 12), so TorchSharp 0.107's
# libLibTorchSharp.so cannot load and LocalFeat's patched copy is needed; exit 1 when it has it.
# The same test as scripts/patch-torchsharp.sh of the LocalFeat repository.
libstdcxx=$(ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ && !found {print $NF; found = 1}')
if [ -n "$libstdcxx" ] && grep -qa GLIBCXX_3.4.32 "$libstdcxx"; then
  exit 1
fi
exit 0
