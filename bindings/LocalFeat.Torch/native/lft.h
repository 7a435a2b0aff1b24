// liblocalfeat_torch: a C ABI over libtorch and OpenCV for LocalFeat.Torch (C#).
//
// Conventions
//  - A tensor handle is an owned `at::Tensor*` (one reference); free it with lft_tensor_free.
//  - Every function returns int: 0 on success, -1 on failure. The failure's message (libtorch's
//    message without the C++ backtrace, prefixed with the failing call) is in lft_last_error(),
//    which is thread-local. No C++ exception ever crosses this boundary.
#pragma once
#include <stdint.h>

#ifdef __cplusplus
#include <ATen/ATen.h>
typedef at::Tensor* lft_tensor;
extern "C" {
#else
typedef void* lft_tensor;
#endif

#define LFT_API __attribute__((visibility("default")))

// Kinds of a dispatcher argument or result (LftValue.kind).
enum LftKind {
  LFT_NONE = 0,
  LFT_TENSOR = 1,       // p: lft_tensor (borrowed as argument, owned as result)
  LFT_TENSOR_LIST = 2,  // p: lft_tensor* array of len (a null element is None, for Tensor?[])
  LFT_INT = 3,          // i
  LFT_INT_LIST = 4,     // p: int64_t* of len
  LFT_DOUBLE = 5,       // d
  LFT_DOUBLE_LIST = 6,  // p: double* of len
  LFT_BOOL = 7,         // i (0/1)
  LFT_STRING = 8,       // p: UTF-8, zero-terminated (argument only)
  LFT_GENERATOR = 9,    // p: lft_generator
  LFT_DEVICE = 10,      // i: device type (0 cpu, 1 cuda); len: device index (-1 = current)
};

typedef struct LftValue {
  int32_t kind;
  int32_t len;
  union {
    int64_t i;
    double d;
    void* p;
  };
  const char* name;  // argument only: optional schema argument name (keyword); null = positional
} LftValue;

LFT_API const char* lft_last_error(void);

// --- tensors --------------------------------------------------------------------------------
LFT_API int lft_tensor_free(lft_tensor t);
LFT_API int lft_tensor_alias(lft_tensor t, lft_tensor* out);  // a new handle to the same tensor
// Copies `bytes` from `data` into a new contiguous CPU tensor of `dtype` and `shape`.
LFT_API int lft_tensor_from_data(const void* data, int64_t bytes, int32_t dtype, const int64_t* shape,
                                 int32_t ndim, lft_tensor* out);
// Copies the tensor's elements (made contiguous, on CPU) into `dst` (capacity `bytes`).
LFT_API int lft_tensor_copy_to(lft_tensor t, void* dst, int64_t bytes);

typedef struct LftTensorInfo {
  int32_t defined;
  int32_t dtype;
  int32_t device_type;  // 0 cpu, 1 cuda
  int32_t device_index;
  int32_t ndim;
  int32_t requires_grad;
  int32_t is_leaf;
  int32_t is_contiguous;
  int64_t numel;
  void* data;
} LftTensorInfo;
LFT_API int lft_tensor_info(lft_tensor t, LftTensorInfo* info);
// sizes and strides (each of capacity ndim).
LFT_API int lft_tensor_shape(lft_tensor t, int64_t* sizes, int64_t* strides);

// --- dispatcher -------------------------------------------------------------------------------
// Looks up `name` (e.g. "aten::conv2d") with `overload` ("" for the default). The handle lives for
// the process; cache it.
LFT_API int lft_op_find(const char* name, const char* overload, void** op);
// The schema as text, into buf (capacity len), for error messages and documentation.
LFT_API int lft_op_schema(void* op, char* buf, int32_t len);
// Calls the operator. Arguments may be positional then named; the missing ones get the schema's
// defaults. Results are written to `results` (capacity `max_results`); a tuple result is flattened.
// Result tensors are owned handles; a LFT_TENSOR_LIST result's array must be freed with lft_free.
LFT_API int lft_op_call(void* op, const LftValue* args, int32_t nargs, LftValue* results,
                        int32_t max_results, int32_t* nresults);
LFT_API void lft_free(void* p);

// --- autograd ---------------------------------------------------------------------------------
LFT_API int lft_set_requires_grad(lft_tensor t, int32_t requires_grad);
LFT_API int lft_tensor_grad(lft_tensor t, lft_tensor* out);  // null out when there is no grad
LFT_API int lft_tensor_set_grad(lft_tensor t, lft_tensor grad);  // grad null: clears it
// tensors[i].backward(grads[i]) for all i; a null grad means ones (scalar outputs).
LFT_API int lft_backward(const lft_tensor* tensors, const lft_tensor* grads, int32_t n,
                         int32_t retain_graph, int32_t create_graph);
// torch::autograd::grad; out receives ninputs handles (null where unused and allow_unused).
LFT_API int lft_autograd_grad(const lft_tensor* outputs, const lft_tensor* grad_outputs, int32_t noutputs,
                              const lft_tensor* inputs, int32_t ninputs, int32_t retain_graph,
                              int32_t create_graph, int32_t allow_unused, lft_tensor* out);
LFT_API int32_t lft_grad_enabled(void);
LFT_API void lft_set_grad_enabled(int32_t enabled);

// Custom autograd functions whose forward and backward are C# callbacks.
// forward: inputs are owned handles (the callee frees them); writes owned output handles.
typedef int (*lft_forward_fn)(intptr_t state, void* ctx, lft_tensor* inputs, int32_t ninputs,
                              lft_tensor* outputs, int32_t max_outputs, int32_t* noutputs);
// backward: grads are owned handles (null for an undefined grad); writes ninputs owned handles or null.
typedef int (*lft_backward_fn)(intptr_t state, void* ctx, lft_tensor* grads, int32_t ngrads,
                               lft_tensor* grad_inputs, int32_t ninputs);
// release: the graph node holding `state` is gone.
typedef void (*lft_release_fn)(intptr_t state);
// A callback that fails returns nonzero after lft_set_callback_error(message).
LFT_API void lft_set_callback_error(const char* message);
LFT_API int lft_function_register(lft_forward_fn forward, lft_backward_fn backward, lft_release_fn release);
LFT_API int lft_function_apply(intptr_t state, const lft_tensor* inputs, int32_t ninputs, lft_tensor* outputs,
                               int32_t max_outputs, int32_t* noutputs);
LFT_API int lft_ctx_save_for_backward(void* ctx, const lft_tensor* tensors, int32_t n);
LFT_API int lft_ctx_saved(void* ctx, lft_tensor* out, int32_t max, int32_t* n);
LFT_API int lft_ctx_mark_non_differentiable(void* ctx, const lft_tensor* tensors, int32_t n);
LFT_API int lft_ctx_needs_input_grad(void* ctx, int32_t index, int32_t* needs);

// --- random -----------------------------------------------------------------------------------
typedef void* lft_generator;
LFT_API int lft_manual_seed(uint64_t seed);
LFT_API int lft_generator_new(uint64_t seed, lft_generator* out);
LFT_API int lft_generator_free(lft_generator g);
LFT_API int lft_generator_get_state(lft_generator g, lft_tensor* state);  // uint8 tensor
LFT_API int lft_generator_set_state(lft_generator g, lft_tensor state);
LFT_API int lft_default_generator(lft_generator* out);  // the global CPU generator (do not free)

// --- IO ---------------------------------------------------------------------------------------
// torch.save(dict of tensors) → names (each malloc'ed, free with lft_free) and owned tensors.
// The arrays are malloc'ed; free them with lft_free.
LFT_API int lft_load_state_dict(const char* path, char*** names, lft_tensor** tensors, int32_t* n);
// 8-bit image → uint8 tensor [H,W] (gray) or [H,W,3] (RGB order).
LFT_API int lft_image_read(const char* path, int32_t color, lft_tensor* out);
// uint8 tensor [H,W] or [H,W,3] (RGB) → PNG/JPEG by extension.
LFT_API int lft_image_write(const char* path, lft_tensor image);

// --- system -----------------------------------------------------------------------------------
// "key=value" lines: torch version, threads, BLAS library in use, OpenCV version, CUDA available.
LFT_API int lft_system_report(char* buf, int32_t len);
LFT_API int lft_set_num_threads(int32_t n);
LFT_API int32_t lft_get_num_threads(void);

#ifdef __cplusplus
}
#endif
