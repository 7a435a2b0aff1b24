// std::ios_base_library_init() for a libstdc++ older than GCC 13 (Debian 12: GCC 12).
// GCC >= 13 emits a call to it (symbol version GLIBCXX_3.4.32) wherever <iostream> is included, so that
// the standard streams are initialised; TorchSharp's libLibTorchSharp.so is built that way. With GCC 12,
// including <iostream> in this translation unit initialises the streams (std::ios_base::Init), so the
// function itself has nothing left to do. scripts/patch-torchsharp.sh makes the patched
// libLibTorchSharp.so depend on this library.
#include <iostream>

namespace std {
__attribute__((visibility("default"))) void ios_base_library_init() {}
}  // namespace std
