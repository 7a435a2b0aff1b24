/* C ABI of liblocalfeat_kernels_host.so: every kernel of kernels/ run on the CPU by the
 * host emulation of CUDA's execution model (see lfk_runtime.cpp for the model).
 *
 * Settings (schedule, workers) belong to the calling thread, so that two callers on
 * different threads (e.g. tests running in parallel) never change each other's launches.
 * Errors: a nonzero return; lfk_last_error() then holds a message (thread-local, valid
 * until the next call on this thread) naming the call, the kernel and the reason. */
#ifndef LFK_API_H
#define LFK_API_H

#ifdef __cplusplus
extern "C" {
#endif

#define LFK_EXPORT __attribute__((visibility("default")))

/* Largest dynamic shared memory per block (the sm_90 opt-in maximum, 227 KiB). */
#define LFK_MAX_DYNAMIC_SHARED_BYTES (227u * 1024u)

/* Runs kernel `kernel` over grid (gx,gy,gz) of blocks of (bx,by,bz) threads with
 * `sharedBytes` of dynamic shared memory; params[i] points at the value of parameter i,
 * exactly as for cuLaunchKernel. Returns when every block has finished: 0 on success. */
LFK_EXPORT int lfk_launch(const char* kernel, unsigned gx, unsigned gy, unsigned gz,
                          unsigned bx, unsigned by, unsigned bz, unsigned sharedBytes,
                          void** params);

/* Message of the last failure on the calling thread ("" when none). */
LFK_EXPORT const char* lfk_last_error(void);

/* shuffled = 0: threads of a block run in index order between barriers (deterministic);
 * shuffled != 0: in a random order drawn from `seed` and the block index (reproducible),
 * so that a missing __syncthreads() changes results. Applies to the calling thread. */
LFK_EXPORT void lfk_set_schedule(int shuffled, unsigned long long seed);

/* Worker threads over which the blocks of the calling thread's launches are spread:
 * 0 = hardware concurrency (default), 1..256. Returns 0, or nonzero for a bad count. */
LFK_EXPORT int lfk_set_workers(int n);

/* Registered kernels, sorted by name. */
LFK_EXPORT int lfk_kernel_count(void);
LFK_EXPORT const char* lfk_kernel_name(int i);

#ifdef __cplusplus
}
#endif

#endif /* LFK_API_H */
