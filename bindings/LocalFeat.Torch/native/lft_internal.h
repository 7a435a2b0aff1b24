// Internal helpers of liblocalfeat_torch: the exception boundary and handle conversion.
#pragma once
#include <string>
#include <torch/torch.h>
#include "lft.h"

namespace lft {

void set_error(std::string message);

// Runs `body`, turning any exception into a -1 return with the message in lft_last_error().
// c10::Error messages are taken without their C++ backtrace.
template <class F>
int guard(const char* call, F&& body) {
  try {
    body();
    return 0;
  } catch (const c10::Error& e) {
    set_error(std::string(call) + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    set_error(std::string(call) + ": " + e.what());
  } catch (...) {
    set_error(std::string(call) + ": unknown C++ exception");
  }
  return -1;
}

inline const at::Tensor& deref(lft_tensor t) {
  if (t == nullptr) throw std::invalid_argument("null tensor handle");
  return *t;
}

inline lft_tensor wrap(at::Tensor t) { return new at::Tensor(std::move(t)); }

}  // namespace lft
