# Turns kernels/<name>.cu into a C++ translation unit for the host emulation:
#   * the kernel text goes inside its own namespace (NS), so that __device__ helpers of the
#     same name in two kernel files do not collide (NVRTC compiles each file on its own);
#     extern "C" kernels keep their plain names;
#   * `extern __shared__ T name[];` (dynamic shared memory, which has no C++ spelling) becomes
#     LFK_EXTERN_SHARED(T, name): a pointer to the running block's dynamic shared buffer.
# Usage: cmake -DIN=<kernel.cu> -DOUT=<wrapper.cpp> -DNS=<namespace> -P lfk_wrap_kernel.cmake
foreach(var IN ITEMS IN OUT NS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "lfk_wrap_kernel.cmake: -D${var}=... is required")
  endif()
endforeach()

file(READ "${IN}" src)
set(ws "[ \t\r\n]")
# Alignment qualifiers are meaningless for the host buffer (it is page-aligned).
string(REGEX REPLACE "extern${ws}+__shared__${ws}+__align__${ws}*\\([^)]*\\)" "extern __shared__" src "${src}")
string(REGEX REPLACE
  "extern${ws}+__shared__${ws}+([^;{}]*[^;{} \t\r\n])${ws}+([A-Za-z_][A-Za-z0-9_]*)${ws}*\\[${ws}*\\]${ws}*;"
  "LFK_EXTERN_SHARED(\\1, \\2);" src "${src}")

set(content "// Generated from ${IN} by kernels/host/lfk_wrap_kernel.cmake: do not edit.\n")
string(APPEND content "#include \"lf_prelude.cuh\"\n")
string(APPEND content "namespace ${NS} {\n")
string(APPEND content "#line 1 \"${IN}\"\n")
string(APPEND content "${src}")
string(APPEND content "\n}  // namespace ${NS}\n")

# Rewrite only on change, so that an unchanged kernel is not recompiled.
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
  if(old STREQUAL content)
    return()
  endif()
endif()
file(WRITE "${OUT}" "${content}")
