// lf_prelude.cuh — the only include of every kernel in kernels/.
//
// The same kernel text compiles two ways:
//  * NVRTC (__CUDACC_RTC__): CUDA's builtins exist already; this adds only what NVRTC lacks
//    (fixed-width integer typedefs, INFINITY/NAN/FLT_MAX) and makes LF_REGISTER_KERNEL empty.
//  * the host compiler (g++, building liblocalfeat_kernels_host.so): CUDA's keywords, builtin
//    variables, warp/block collectives, atomics and intrinsics are mapped onto the host
//    emulation in kernels/host (threads of a block are fibers on one worker thread).
//
// Write kernels as plain CUDA C++:
//     #include "lf_prelude.cuh"
//     extern "C" __global__ void foo(const float* __restrict__ x, float* y, int n) { ... }
//     LF_REGISTER_KERNEL(foo)
//
// Host-emulation notes for kernel authors:
//  * `__shared__ T x[N];` is per block (storage of the worker thread running the block);
//    `extern __shared__ T x[];` is rewritten by the host build (lfk_wrap_kernel.cmake) to the
//    block's dynamic shared buffer. Neither is initialised, as on a GPU.
//  * A shuffle reading a lane that does not exist (partial warp), has exited or is outside
//    the mask returns the caller's own value; a collective whose mask names a lane that has
//    exited is reported as an error, as is a __syncthreads() that some threads never reach.
//  * __activemask() is the set of lanes of the warp that exist and have not exited.
#pragma once
#ifndef LF_PRELUDE_CUH
#define LF_PRELUDE_CUH

#if defined(__CUDACC_RTC__)
// ---------------------------------------------------------------------------------- NVRTC
typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef short int16_t;
typedef unsigned short uint16_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef long int64_t;  // LP64, as on the host, so overloads resolve the same on both
typedef unsigned long uint64_t;

#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif
#ifndef NAN
#define NAN __int_as_float(0x7fffffff)
#endif
#ifndef FLT_MAX
#define FLT_MAX 3.402823466e+38F
#endif
#ifndef FLT_MIN
#define FLT_MIN 1.175494351e-38F
#endif
#ifndef FLT_EPSILON
#define FLT_EPSILON 1.192092896e-07F
#endif
#ifndef INT_MAX
#define INT_MAX 2147483647
#endif
#ifndef INT_MIN
#define INT_MIN (-2147483647 - 1)
#endif

#define LF_HOST_EMULATION 0
#define LF_REGISTER_KERNEL(name)

#elif defined(__CUDACC__)
// ------------------------------------------------------------------ nvcc (not used by the build)
#include <cstdint>
#include <cfloat>
#include <climits>
#include <cmath>
#define LF_HOST_EMULATION 0
#define LF_REGISTER_KERNEL(name)

#else
// ---------------------------------------------------------------------- host emulation (g++)
#include <cassert>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>  // printf, as NVRTC provides it
#include <cstring>
#include <math.h>
#include <type_traits>
#include <utility>

#include "host/lfk_runtime.hpp"

#define LF_HOST_EMULATION 1

// A failed device assert() fails the launch with the condition and place (never abort()s the
// process), and is checked even in release builds: the emulator exists to catch bugs.
#undef assert
#define LFK_STR2(x) #x
#define LFK_STR(x) LFK_STR2(x)
#define assert(e) \
    ((e) ? (void)0 : ::lfk::rt::kernel_error("assert(" #e ") failed at " __FILE__ ":" LFK_STR(__LINE__)))

// Keywords. Kernels are compiled with -fvisibility=hidden, so kernel symbols stay private.
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __constant__
#define __managed__
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)
// Block-scope thread_local is static: one instance per worker thread = per running block.
#define __shared__ static thread_local
// `extern __shared__ T name[];` is rewritten to this by the host build: the worker's dynamic
// shared buffer has a fixed address, so a per-worker pointer is the block's buffer.
#define LFK_EXTERN_SHARED(T, name) \
    static thread_local T* const name = reinterpret_cast<T*>(::lfk::rt::dynamic_shared())

using ::lfk::dim3;
using ::lfk::uint3;

// Builtin variables (read-only, as on the device).
#define threadIdx (::lfk::rt::tl_thread->threadIdx)
#define blockIdx (::lfk::rt::tl_block->blockIdx)
#define blockDim (::lfk::rt::tl_block->blockDim)
#define gridDim (::lfk::rt::tl_block->gridDim)
static constexpr int warpSize = 32;

// Vector types (the common ones), with CUDA's alignment.
struct __attribute__((aligned(8))) float2 { float x, y; };
struct float3 { float x, y, z; };
struct __attribute__((aligned(16))) float4 { float x, y, z, w; };
struct __attribute__((aligned(8))) int2 { int x, y; };
struct int3 { int x, y, z; };
struct __attribute__((aligned(16))) int4 { int x, y, z, w; };
struct __attribute__((aligned(8))) uint2 { unsigned x, y; };
struct __attribute__((aligned(16))) uint4 { unsigned x, y, z, w; };
struct __attribute__((aligned(16))) double2 { double x, y; };
inline float2 make_float2(float x, float y) { return float2{x, y}; }
inline float3 make_float3(float x, float y, float z) { return float3{x, y, z}; }
inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
inline int2 make_int2(int x, int y) { return int2{x, y}; }
inline int3 make_int3(int x, int y, int z) { return int3{x, y, z}; }
inline int4 make_int4(int x, int y, int z, int w) { return int4{x, y, z, w}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return uint2{x, y}; }
inline uint3 make_uint3(unsigned x, unsigned y, unsigned z) { return uint3{x, y, z}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return uint4{x, y, z, w}; }
inline double2 make_double2(double x, double y) { return double2{x, y}; }

// ------------------------------------------------------------------ block and warp collectives
inline void __syncthreads() { ::lfk::rt::syncthreads(0, ::lfk::rt::kBarrierPlain); }
inline int __syncthreads_count(int p) { return ::lfk::rt::syncthreads(p != 0, ::lfk::rt::kBarrierCount); }
inline int __syncthreads_and(int p) { return ::lfk::rt::syncthreads(p != 0, ::lfk::rt::kBarrierAnd); }
inline int __syncthreads_or(int p) { return ::lfk::rt::syncthreads(p != 0, ::lfk::rt::kBarrierOr); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { ::lfk::rt::warp_collective(::lfk::rt::kWarpSync, mask, 0, 0, 0); }
inline unsigned __activemask() { return ::lfk::rt::activemask(); }
inline unsigned __ballot_sync(unsigned mask, int p) {
    return (unsigned)::lfk::rt::warp_collective(::lfk::rt::kBallot, mask, p != 0, 0, 0);
}
inline int __any_sync(unsigned mask, int p) { return (int)::lfk::rt::warp_collective(::lfk::rt::kAny, mask, p != 0, 0, 0); }
inline int __all_sync(unsigned mask, int p) { return (int)::lfk::rt::warp_collective(::lfk::rt::kAll, mask, p != 0, 0, 0); }
inline unsigned __reduce_add_sync(unsigned mask, unsigned v) { return (unsigned)::lfk::rt::warp_collective(::lfk::rt::kReduceAdd, mask, v, 0, 0); }
inline int __reduce_add_sync(unsigned mask, int v) { return (int)::lfk::rt::warp_collective(::lfk::rt::kReduceAdd, mask, (unsigned)v, 0, 0); }
inline unsigned __reduce_min_sync(unsigned mask, unsigned v) { return (unsigned)::lfk::rt::warp_collective(::lfk::rt::kReduceMinU, mask, v, 0, 0); }
inline int __reduce_min_sync(unsigned mask, int v) { return (int)::lfk::rt::warp_collective(::lfk::rt::kReduceMinI, mask, (unsigned)v, 0, 0); }
inline unsigned __reduce_max_sync(unsigned mask, unsigned v) { return (unsigned)::lfk::rt::warp_collective(::lfk::rt::kReduceMaxU, mask, v, 0, 0); }
inline int __reduce_max_sync(unsigned mask, int v) { return (int)::lfk::rt::warp_collective(::lfk::rt::kReduceMaxI, mask, (unsigned)v, 0, 0); }
inline unsigned __reduce_and_sync(unsigned mask, unsigned v) { return (unsigned)::lfk::rt::warp_collective(::lfk::rt::kReduceAnd, mask, v, 0, 0); }
inline unsigned __reduce_or_sync(unsigned mask, unsigned v) { return (unsigned)::lfk::rt::warp_collective(::lfk::rt::kReduceOr, mask, v, 0, 0); }
inline unsigned __reduce_xor_sync(unsigned mask, unsigned v) { return (unsigned)::lfk::rt::warp_collective(::lfk::rt::kReduceXor, mask, v, 0, 0); }

namespace lfk {
namespace rt {
template <class T>
inline std::uint64_t to_bits(T v) {
    static_assert(sizeof(T) == 4 || sizeof(T) == 8, "warp shuffles move 4- or 8-byte values");
    if constexpr (sizeof(T) == 4) {
        std::uint32_t u;
        std::memcpy(&u, &v, 4);
        return u;
    } else {
        std::uint64_t u;
        std::memcpy(&u, &v, 8);
        return u;
    }
}
template <class T>
inline T from_bits(std::uint64_t u) {
    T v;
    if constexpr (sizeof(T) == 4) {
        std::uint32_t w = (std::uint32_t)u;
        std::memcpy(&v, &w, 4);
    } else {
        std::memcpy(&v, &u, 8);
    }
    return v;
}
// PTX shfl.sync's c operand: segment mask (32 - width) in bits 12:8, clamp in bits 4:0.
inline int shfl_c(int width, bool up) {
    if (width < 1 || width > 32 || (width & (width - 1)) != 0)
        kernel_error("warp shuffle: width must be a power of two in 1..32");
    return ((32 - width) << 8) | (up ? 0 : 0x1f);
}
template <class T>
inline T shfl(int op, unsigned mask, T var, int b, int width) {
    return from_bits<T>(warp_collective(op, mask, to_bits(var), b, shfl_c(width, op == kShflUp)));
}
}  // namespace rt
}  // namespace lfk

#define LFK_DEFINE_SHUFFLES(T)                                                                          \
    inline T __shfl_sync(unsigned m, T v, int src, int w = 32) { return ::lfk::rt::shfl(::lfk::rt::kShflIdx, m, v, src, w); } \
    inline T __shfl_up_sync(unsigned m, T v, unsigned d, int w = 32) { return ::lfk::rt::shfl(::lfk::rt::kShflUp, m, v, (int)d, w); } \
    inline T __shfl_down_sync(unsigned m, T v, unsigned d, int w = 32) { return ::lfk::rt::shfl(::lfk::rt::kShflDown, m, v, (int)d, w); } \
    inline T __shfl_xor_sync(unsigned m, T v, int x, int w = 32) { return ::lfk::rt::shfl(::lfk::rt::kShflXor, m, v, x, w); }
LFK_DEFINE_SHUFFLES(int)
LFK_DEFINE_SHUFFLES(unsigned)
LFK_DEFINE_SHUFFLES(long)
LFK_DEFINE_SHUFFLES(unsigned long)
LFK_DEFINE_SHUFFLES(long long)
LFK_DEFINE_SHUFFLES(unsigned long long)
LFK_DEFINE_SHUFFLES(float)
LFK_DEFINE_SHUFFLES(double)
#undef LFK_DEFINE_SHUFFLES

inline unsigned __match_any_sync(unsigned mask, unsigned v) { return (unsigned)::lfk::rt::warp_collective(::lfk::rt::kMatchAny, mask, v, 0, 0); }
inline unsigned __match_any_sync(unsigned mask, int v) { return __match_any_sync(mask, (unsigned)v); }

// ------------------------------------------------------------------------------------ atomics
// Real atomics: blocks run concurrently on different worker threads. Relaxed, as on the GPU;
// __threadfence() orders them.
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_system() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

#define LFK_DEFINE_INT_ATOMICS(T)                                                              \
    inline T atomicAdd(T* a, T v) { return __atomic_fetch_add(a, v, __ATOMIC_RELAXED); }      \
    inline T atomicSub(T* a, T v) { return __atomic_fetch_sub(a, v, __ATOMIC_RELAXED); }      \
    inline T atomicAnd(T* a, T v) { return __atomic_fetch_and(a, v, __ATOMIC_RELAXED); }      \
    inline T atomicOr(T* a, T v) { return __atomic_fetch_or(a, v, __ATOMIC_RELAXED); }        \
    inline T atomicXor(T* a, T v) { return __atomic_fetch_xor(a, v, __ATOMIC_RELAXED); }      \
    inline T atomicExch(T* a, T v) { return __atomic_exchange_n(a, v, __ATOMIC_RELAXED); }    \
    inline T atomicCAS(T* a, T cmp, T v) {                                                     \
        __atomic_compare_exchange_n(a, &cmp, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);    \
        return cmp;                                                                            \
    }                                                                                          \
    inline T atomicMax(T* a, T v) {                                                            \
        T old = __atomic_load_n(a, __ATOMIC_RELAXED);                                          \
        while (old < v && !__atomic_compare_exchange_n(a, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {} \
        return old;                                                                            \
    }                                                                                          \
    inline T atomicMin(T* a, T v) {                                                            \
        T old = __atomic_load_n(a, __ATOMIC_RELAXED);                                          \
        while (old > v && !__atomic_compare_exchange_n(a, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {} \
        return old;                                                                            \
    }
LFK_DEFINE_INT_ATOMICS(int)
LFK_DEFINE_INT_ATOMICS(unsigned)
LFK_DEFINE_INT_ATOMICS(long long)
LFK_DEFINE_INT_ATOMICS(unsigned long long)
#undef LFK_DEFINE_INT_ATOMICS

#define LFK_DEFINE_FLOAT_ATOMICS(T)                                                            \
    inline T atomicAdd(T* a, T v) {                                                            \
        T old, sum;                                                                            \
        __atomic_load(a, &old, __ATOMIC_RELAXED);                                              \
        do { sum = old + v; } while (!__atomic_compare_exchange(a, &old, &sum, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)); \
        return old;                                                                            \
    }                                                                                          \
    inline T atomicExch(T* a, T v) {                                                           \
        T old;                                                                                 \
        __atomic_exchange(a, &v, &old, __ATOMIC_RELAXED);                                      \
        return old;                                                                            \
    }
LFK_DEFINE_FLOAT_ATOMICS(float)
LFK_DEFINE_FLOAT_ATOMICS(double)
#undef LFK_DEFINE_FLOAT_ATOMICS

// CUDA's atomicInc/atomicDec wrap at `limit`.
inline unsigned atomicInc(unsigned* a, unsigned limit) {
    unsigned old = __atomic_load_n(a, __ATOMIC_RELAXED), nw;
    do { nw = old >= limit ? 0u : old + 1u; } while (!__atomic_compare_exchange_n(a, &old, nw, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return old;
}
inline unsigned atomicDec(unsigned* a, unsigned limit) {
    unsigned old = __atomic_load_n(a, __ATOMIC_RELAXED), nw;
    do { nw = (old == 0u || old > limit) ? limit : old - 1u; } while (!__atomic_compare_exchange_n(a, &old, nw, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return old;
}

// ---------------------------------------------------------------------- math and intrinsics
// The fast-math intrinsics are the precise functions here: the host result is the reference.
inline float __expf(float x) { return expf(x); }
inline float __exp10f(float x) { return exp10f(x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __log10f(float x) { return log10f(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline void __sincosf(float x, float* s, float* c) { sincosf(x, s, c); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __frsqrt_rn(float x) { return 1.0f / sqrtf(x); }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fdividef(float a, float b) { return a / b; }
inline float fdividef(float a, float b) { return a / b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float __saturatef(float x) { return x != x ? 0.0f : (x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x)); }
inline int __float2int_rn(float x) { return (int)nearbyintf(x); }
inline int __float2int_rz(float x) { return (int)x; }
inline int __float2int_rd(float x) { return (int)floorf(x); }
inline int __float2int_ru(float x) { return (int)ceilf(x); }
inline unsigned __float2uint_rn(float x) { return (unsigned)nearbyintf(x); }
inline float __int2float_rn(int x) { return (float)x; }
inline float __uint2float_rn(unsigned x) { return (float)x; }
inline float __double2float_rn(double x) { return (float)x; }

inline int __float_as_int(float x) { int i; std::memcpy(&i, &x, 4); return i; }
inline float __int_as_float(int i) { float x; std::memcpy(&x, &i, 4); return x; }
inline unsigned __float_as_uint(float x) { unsigned i; std::memcpy(&i, &x, 4); return i; }
inline float __uint_as_float(unsigned i) { float x; std::memcpy(&x, &i, 4); return x; }
inline long long __double_as_longlong(double x) { long long i; std::memcpy(&i, &x, 8); return i; }
inline double __longlong_as_double(long long i) { double x; std::memcpy(&x, &i, 8); return x; }

inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
    x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
    return (x >> 16) | (x << 16);
}
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
inline int __mulhi(int a, int b) { return (int)(((long long)a * b) >> 32); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
    return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}

template <class T>
inline T __ldg(const T* p) { return *p; }

// CUDA's global min/max overloads (integer and floating point, as in its math headers).
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline unsigned min(int a, unsigned b) { return min((unsigned)a, b); }
inline unsigned max(int a, unsigned b) { return max((unsigned)a, b); }
inline unsigned min(unsigned a, int b) { return min(a, (unsigned)b); }
inline unsigned max(unsigned a, int b) { return max(a, (unsigned)b); }
inline long min(long a, long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a > b ? a : b; }
inline unsigned long min(unsigned long a, unsigned long b) { return a < b ? a : b; }
inline unsigned long max(unsigned long a, unsigned long b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
inline double min(float a, double b) { return fmin(a, b); }
inline double max(float a, double b) { return fmax(a, b); }
inline double min(double a, float b) { return fmin(a, b); }
inline double max(double a, float b) { return fmax(a, b); }

// ------------------------------------------------------------------------------- registration
namespace lfk {
namespace rt {
template <auto F>
struct KernelInvoker;
// Unpacks cuLaunchKernel's params array (params[i] points at argument i) into F's types.
template <class... A, void (*F)(A...)>
struct KernelInvoker<F> {
    static constexpr int arity = (int)sizeof...(A);
    template <std::size_t... I>
    static void call([[maybe_unused]] void** p, std::index_sequence<I...>) {
        F(*static_cast<std::remove_cv_t<A>*>(p[I])...);
    }
    static void invoke(void** p) { call(p, std::index_sequence_for<A...>{}); }
};
}  // namespace rt
}  // namespace lfk

#define LF_REGISTER_KERNEL(name)                                                        \
    static const ::lfk::rt::Registrar lfk_registrar_##name(                             \
        #name, &::lfk::rt::KernelInvoker<&name>::invoke, ::lfk::rt::KernelInvoker<&name>::arity);

#endif  // host emulation
#endif  // LF_PRELUDE_CUH
