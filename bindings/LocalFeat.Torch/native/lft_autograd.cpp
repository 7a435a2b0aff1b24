// Autograd from C#: backward/grad, grad mode, and custom functions whose forward and backward
// are C# callbacks (CSharpFunction below). The C# side keeps per-call state behind an opaque
// `state` value; the node's context owns it through a capsule whose destructor releases it.
#include <torch/csrc/autograd/custom_function.h>

#include "lft_internal.h"

using lft::deref;
using lft::guard;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

namespace {

lft_forward_fn forward_cb = nullptr;
lft_backward_fn backward_cb = nullptr;
lft_release_fn release_cb = nullptr;
thread_local std::string callback_error;

constexpr int32_t kMaxOutputs = 64;
constexpr const char* kStateKey = "lf_state";
constexpr const char* kInputCountKey = "lf_ninputs";

// Releases the C# state when the autograd node (and so its context) is destroyed.
struct StateHolder : torch::CustomClassHolder {
  explicit StateHolder(intptr_t s) : state(s) {}
  ~StateHolder() override {
    if (release_cb) release_cb(state);
  }
  intptr_t state;
};

[[noreturn]] void callback_failed(const char* which) {
  std::string message = callback_error.empty() ? std::string(which) + " callback failed" : callback_error;
  callback_error.clear();
  throw std::runtime_error(message);
}

intptr_t state_of(AutogradContext* ctx) {
  auto holder = ctx->saved_data.at(kStateKey).toCapsule();
  return static_cast<StateHolder*>(holder.get())->state;
}

struct CSharpFunction : public torch::autograd::Function<CSharpFunction> {
  static variable_list forward(AutogradContext* ctx, at::TensorList inputs, int64_t state) {
    ctx->saved_data[kStateKey] = c10::IValue::make_capsule(c10::make_intrusive<StateHolder>(state));
    ctx->saved_data[kInputCountKey] = static_cast<int64_t>(inputs.size());
    std::vector<lft_tensor> in(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) in[i] = lft::wrap(inputs[i]);  // the callee owns these
    lft_tensor out[kMaxOutputs] = {};
    int32_t nout = 0;
    if (forward_cb(state, ctx, in.data(), static_cast<int32_t>(in.size()), out, kMaxOutputs, &nout) != 0)
      callback_failed("forward");
    variable_list result;
    result.reserve(nout);
    for (int32_t i = 0; i < nout; ++i) {
      if (!out[i]) throw std::runtime_error("forward returned a null tensor at output " + std::to_string(i));
      result.push_back(std::move(*out[i]));
      delete out[i];
    }
    return result;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    std::vector<lft_tensor> g(grads.size());
    for (size_t i = 0; i < grads.size(); ++i) g[i] = grads[i].defined() ? lft::wrap(grads[i]) : nullptr;
    // One gradient per forward argument: the tensors, then the `state` (never differentiable).
    int32_t ninputs = static_cast<int32_t>(ctx->saved_data.at(kInputCountKey).toInt());
    std::vector<lft_tensor> gin(ninputs, nullptr);
    if (backward_cb(state_of(ctx), ctx, g.data(), static_cast<int32_t>(g.size()), gin.data(), ninputs) != 0)
      callback_failed("backward");
    variable_list result(ninputs + 1);
    for (int32_t i = 0; i < ninputs; ++i) {
      if (gin[i]) {
        result[i] = std::move(*gin[i]);
        delete gin[i];
      }
    }
    return result;
  }
};

}  // namespace

extern "C" {

int lft_set_requires_grad(lft_tensor t, int32_t requires_grad) {
  return guard("lft_set_requires_grad", [&] { deref(t).set_requires_grad(requires_grad != 0); });
}

int lft_tensor_grad(lft_tensor t, lft_tensor* out) {
  return guard("lft_tensor_grad", [&] {
    const at::Tensor& g = deref(t).grad();
    *out = g.defined() ? lft::wrap(g) : nullptr;
  });
}

int lft_tensor_set_grad(lft_tensor t, lft_tensor grad) {
  return guard("lft_tensor_set_grad", [&] {
    deref(t).mutable_grad() = grad ? deref(grad) : at::Tensor();
  });
}

int lft_backward(const lft_tensor* tensors, const lft_tensor* grads, int32_t n, int32_t retain_graph,
                 int32_t create_graph) {
  return guard("backward", [&] {
    variable_list outs, gouts;
    for (int32_t i = 0; i < n; ++i) {
      outs.push_back(deref(tensors[i]));
      gouts.push_back(grads && grads[i] ? deref(grads[i]) : at::Tensor());
    }
    c10::optional<bool> retain;
    if (retain_graph >= 0) retain = retain_graph != 0;
    torch::autograd::backward(outs, gouts, retain, create_graph != 0);
  });
}

int lft_autograd_grad(const lft_tensor* outputs, const lft_tensor* grad_outputs, int32_t noutputs,
                      const lft_tensor* inputs, int32_t ninputs, int32_t retain_graph, int32_t create_graph,
                      int32_t allow_unused, lft_tensor* out) {
  return guard("grad", [&] {
    variable_list outs, gouts, ins;
    for (int32_t i = 0; i < noutputs; ++i) {
      outs.push_back(deref(outputs[i]));
      gouts.push_back(grad_outputs && grad_outputs[i] ? deref(grad_outputs[i]) : at::Tensor());
    }
    for (int32_t i = 0; i < ninputs; ++i) ins.push_back(deref(inputs[i]));
    c10::optional<bool> retain;
    if (retain_graph >= 0) retain = retain_graph != 0;
    auto grads = torch::autograd::grad(outs, ins, gouts, retain, create_graph != 0, allow_unused != 0);
    for (int32_t i = 0; i < ninputs; ++i) out[i] = grads[i].defined() ? lft::wrap(grads[i]) : nullptr;
  });
}

int32_t lft_grad_enabled(void) { return at::GradMode::is_enabled(); }

void lft_set_grad_enabled(int32_t enabled) { at::GradMode::set_enabled(enabled != 0); }

void lft_set_callback_error(const char* message) { callback_error = message ? message : ""; }

int lft_function_register(lft_forward_fn forward, lft_backward_fn backward, lft_release_fn release) {
  return guard("lft_function_register", [&] {
    forward_cb = forward;
    backward_cb = backward;
    release_cb = release;
  });
}

int lft_function_apply(intptr_t state, const lft_tensor* inputs, int32_t ninputs, lft_tensor* outputs,
                       int32_t max_outputs, int32_t* noutputs) {
  return guard("Function.Apply", [&] {
    if (!forward_cb) throw std::logic_error("no callbacks registered (lft_function_register)");
    std::vector<at::Tensor> in;
    in.reserve(ninputs);
    for (int32_t i = 0; i < ninputs; ++i) in.push_back(deref(inputs[i]));
    variable_list result = CSharpFunction::apply(at::TensorList(in), static_cast<int64_t>(state));
    if (static_cast<int32_t>(result.size()) > max_outputs)
      throw std::out_of_range("forward returned " + std::to_string(result.size()) + " outputs, room for " +
                              std::to_string(max_outputs));
    for (size_t i = 0; i < result.size(); ++i) outputs[i] = lft::wrap(std::move(result[i]));
    *noutputs = static_cast<int32_t>(result.size());
  });
}

int lft_ctx_save_for_backward(void* ctx, const lft_tensor* tensors, int32_t n) {
  return guard("SaveForBackward", [&] {
    variable_list list;
    for (int32_t i = 0; i < n; ++i) list.push_back(deref(tensors[i]));
    static_cast<AutogradContext*>(ctx)->save_for_backward(std::move(list));
  });
}

int lft_ctx_saved(void* ctx, lft_tensor* out, int32_t max, int32_t* n) {
  return guard("SavedTensors", [&] {
    variable_list saved = static_cast<AutogradContext*>(ctx)->get_saved_variables();
    if (static_cast<int32_t>(saved.size()) > max) throw std::out_of_range("too many saved tensors");
    for (size_t i = 0; i < saved.size(); ++i) out[i] = lft::wrap(saved[i]);
    *n = static_cast<int32_t>(saved.size());
  });
}

int lft_ctx_mark_non_differentiable(void* ctx, const lft_tensor* tensors, int32_t n) {
  return guard("MarkNonDifferentiable", [&] {
    variable_list list;
    for (int32_t i = 0; i < n; ++i) list.push_back(deref(tensors[i]));
    static_cast<AutogradContext*>(ctx)->mark_non_differentiable(list);
  });
}

int lft_ctx_needs_input_grad(void* ctx, int32_t index, int32_t* needs) {
  return guard("NeedsInputGrad", [&] {
    *needs = static_cast<AutogradContext*>(ctx)->needs_input_grad(index);
  });
}

}
