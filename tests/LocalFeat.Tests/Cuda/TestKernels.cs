using LocalFeat.Cuda.Kernels;

namespace LocalFeat.Tests.Cuda;

/// <summary>Small purpose-written kernel sources for the NVRTC, cache and report tests.</summary>
internal static class TestKernels
{
    public const string Header = """
        #pragma once
        // Test header: proves that #include of an embedded .cuh resolves under NVRTC.
        __device__ __forceinline__ float lf_test_scale(float x) { return 2.0f * x; }
        """;

    public const string Saxpy = """
        #include "lf_test.cuh"
        // y[i] = a * x[i] + y[i] with a block-level shared staging buffer; one thread per element.
        extern "C" __global__ void lf_test_saxpy(int n, float a, const float* x, float* y)
        {
            __shared__ float stage[256];
            int i = blockIdx.x * blockDim.x + threadIdx.x;
            stage[threadIdx.x] = i < n ? x[i] : 0.0f;
            __syncthreads();
            if (i < n) y[i] = lf_test_scale(0.5f * a) * stage[threadIdx.x] + y[i];
        }

        /* extern "C" __global__ void commented_out(float* p) {} */
        extern "C" __global__ void __launch_bounds__(128) lf_test_fill(float* p, float v, int n)
        {
            int i = blockIdx.x * blockDim.x + threadIdx.x;
            if (i < n) p[i] = v;
        }
        """;

    /// <summary>Dynamic shared memory: out[i] = n - 1 - i through a block-sized reversed staging buffer (one block).</summary>
    public const string DynamicShared = """
        extern "C" __global__ void lf_test_dynamic_shared(int* out, int n)
        {
            extern __shared__ int buffer[];
            for (int i = threadIdx.x; i < n; i += blockDim.x) buffer[n - 1 - i] = i;
            __syncthreads();
            for (int i = threadIdx.x; i < n; i += blockDim.x) out[i] = buffer[i];
        }
        """;

    /// <summary>Keeps 48 values live across a dependent loop: spills once registers are capped.</summary>
    public const string Spilling = """
        extern "C" __global__ void lf_test_spill(float* a)
        {
            float v[48];
        #pragma unroll
            for (int j = 0; j < 48; j++) v[j] = a[threadIdx.x + j * 1000];
            float s = 0.0f;
        #pragma unroll
            for (int j = 0; j < 48; j++)
        #pragma unroll
                for (int q = 0; q < 48; q++) s += v[j] * v[(q * 7 + j) % 48];
            a[threadIdx.x] = s;
        }
        """;

    public const string Broken = """
        extern "C" __global__ void lf_test_broken(float* p)
        {
            p[threadIdx.x] = undeclared_identifier_xyz;
        }
        """;

    public static KernelSources Sources(string saxpy = Saxpy, string header = Header) => new([
        new("lf_test.cuh", header),
        new("lf_test_saxpy.cu", saxpy),
    ]);

    /// <summary>Sources for device tests: saxpy/fill and the dynamic shared memory kernel.</summary>
    public static KernelSources DeviceSources() => new([
        new("lf_test.cuh", Header),
        new("lf_test_saxpy.cu", Saxpy),
        new("lf_test_dynamic_shared.cu", DynamicShared),
    ]);
}
