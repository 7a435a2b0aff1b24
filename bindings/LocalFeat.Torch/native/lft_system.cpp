// System facts for `localfeat system` and random generators.
#include <ATen/CPUGeneratorImpl.h>
#include <dlfcn.h>
#include <torch/version.h>

#include <opencv2/core/version.hpp>
#include <sstream>

#include "lft_internal.h"

using lft::deref;
using lft::guard;

namespace {

// The shared object that actually provides sgemm_ in this process: libtorch is linked against
// libblas.so.3, which Debian's alternatives point at OpenBLAS or the reference BLAS.
std::string blas_in_use() {
  void* sym = dlsym(RTLD_DEFAULT, "sgemm_");
  Dl_info info{};
  if (sym && dladdr(sym, &info) && info.dli_fname) {
    char resolved[4096];
    if (realpath(info.dli_fname, resolved)) return resolved;
    return info.dli_fname;
  }
  return "unknown (sgemm_ not found)";
}

at::Generator& gen(lft_generator g) {
  if (!g) throw std::invalid_argument("null generator handle");
  return *static_cast<at::Generator*>(g);
}

}  // namespace

extern "C" {

int lft_system_report(char* buf, int32_t len) {
  return guard("system_report", [&] {
    std::ostringstream s;
    s << "torch=" << TORCH_VERSION << "\n";
    s << "threads=" << at::get_num_threads() << "\n";
    s << "interop_threads=" << at::get_num_interop_threads() << "\n";
    s << "blas=" << blas_in_use() << "\n";
    s << "opencv=" << CV_VERSION << "\n";
    s << "torch_cuda=" << (at::hasCUDA() ? "yes" : "no") << "\n";
    std::string text = s.str();
    if (static_cast<int32_t>(text.size()) >= len) throw std::length_error("report buffer too small");
    std::memcpy(buf, text.c_str(), text.size() + 1);
  });
}

int lft_manual_seed(uint64_t seed) {
  return guard("manual_seed", [&] { torch::manual_seed(seed); });
}

int lft_generator_new(uint64_t seed, lft_generator* out) {
  return guard("Generator", [&] { *out = new at::Generator(at::make_generator<at::CPUGeneratorImpl>(seed)); });
}

int lft_generator_free(lft_generator g) {
  return guard("Generator.Dispose", [&] { delete static_cast<at::Generator*>(g); });
}

int lft_default_generator(lft_generator* out) {
  return guard("default_generator", [&] {
    static at::Generator def = at::detail::getDefaultCPUGenerator();
    *out = &def;
  });
}

int lft_generator_get_state(lft_generator g, lft_tensor* state) {
  return guard("Generator.GetState", [&] {
    at::Generator& G = gen(g);
    std::lock_guard<std::mutex> lock(G.mutex());
    *state = lft::wrap(G.get_state());
  });
}

int lft_generator_set_state(lft_generator g, lft_tensor state) {
  return guard("Generator.SetState", [&] {
    at::Generator& G = gen(g);
    std::lock_guard<std::mutex> lock(G.mutex());
    G.set_state(deref(state));
  });
}

}
