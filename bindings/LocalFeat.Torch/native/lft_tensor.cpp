// Tensor handles: lifetime, creation from host data, copies out, metadata.
#include "lft_internal.h"

#include <cstring>

using lft::deref;
using lft::guard;

extern "C" {

int lft_tensor_free(lft_tensor t) {
  return guard("lft_tensor_free", [&] { delete t; });
}

int lft_tensor_alias(lft_tensor t, lft_tensor* out) {
  return guard("lft_tensor_alias", [&] { *out = lft::wrap(deref(t)); });
}

int lft_tensor_from_data(const void* data, int64_t bytes, int32_t dtype, const int64_t* shape, int32_t ndim,
                         lft_tensor* out) {
  return guard("lft_tensor_from_data", [&] {
    auto options = at::TensorOptions().dtype(static_cast<at::ScalarType>(dtype));
    at::Tensor t = at::empty(at::IntArrayRef(shape, ndim), options);
    int64_t need = t.numel() * static_cast<int64_t>(t.element_size());
    if (need != bytes)
      throw std::invalid_argument("data has " + std::to_string(bytes) + " bytes, shape needs " + std::to_string(need));
    if (need > 0) std::memcpy(t.data_ptr(), data, need);
    *out = lft::wrap(std::move(t));
  });
}

int lft_tensor_copy_to(lft_tensor t, void* dst, int64_t bytes) {
  return guard("lft_tensor_copy_to", [&] {
    at::Tensor c = deref(t).detach().to(at::kCPU).contiguous();
    int64_t have = c.numel() * static_cast<int64_t>(c.element_size());
    if (have != bytes)
      throw std::invalid_argument("destination has " + std::to_string(bytes) + " bytes, tensor has " +
                                  std::to_string(have));
    if (have > 0) std::memcpy(dst, c.data_ptr(), have);
  });
}

int lft_tensor_info(lft_tensor t, LftTensorInfo* info) {
  return guard("lft_tensor_info", [&] {
    const at::Tensor& x = deref(t);
    *info = LftTensorInfo{};
    info->defined = x.defined();
    if (!x.defined()) return;
    info->dtype = static_cast<int32_t>(x.scalar_type());
    info->device_type = x.device().is_cuda() ? 1 : 0;
    info->device_index = x.device().has_index() ? x.device().index() : (x.device().is_cuda() ? 0 : -1);
    info->ndim = static_cast<int32_t>(x.dim());
    info->requires_grad = x.requires_grad();
    info->is_leaf = x.is_leaf();
    info->is_contiguous = x.is_contiguous();
    info->numel = x.numel();
    info->data = x.has_storage() ? x.data_ptr() : nullptr;
  });
}

int lft_tensor_shape(lft_tensor t, int64_t* sizes, int64_t* strides) {
  return guard("lft_tensor_shape", [&] {
    const at::Tensor& x = deref(t);
    for (int64_t i = 0; i < x.dim(); ++i) {
      if (sizes) sizes[i] = x.size(i);
      if (strides) strides[i] = x.stride(i);
    }
  });
}

int lft_set_num_threads(int32_t n) {
  return guard("lft_set_num_threads", [&] { at::set_num_threads(n); });
}

int32_t lft_get_num_threads(void) { return at::get_num_threads(); }

}
