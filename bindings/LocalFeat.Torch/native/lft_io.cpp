// File IO: PyTorch state_dict files (torch.save of a dict of tensors) and 8-bit images via OpenCV.
#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/serialize.h>

#include "lft_internal.h"

using lft::deref;
using lft::guard;

namespace {

std::vector<char> read_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(std::string("cannot open '") + path + "': " + std::strerror(errno));
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

char* copy_string(const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  std::memcpy(p, s.c_str(), s.size() + 1);
  return p;
}

// Flattens nested dicts (e.g. {"model": {...}}) into dotted names, as state_dict keys are.
void collect(const c10::IValue& v, const std::string& prefix, std::vector<std::pair<std::string, at::Tensor>>& out) {
  if (v.isTensor()) {
    out.emplace_back(prefix, v.toTensor());
  } else if (v.isGenericDict()) {
    for (const auto& kv : v.toGenericDict()) {
      if (!kv.key().isString()) throw std::runtime_error("state_dict key is not a string: " + kv.key().tagKind());
      collect(kv.value(), prefix.empty() ? kv.key().toStringRef() : prefix + "." + kv.key().toStringRef(), out);
    }
  }  // other values (ints, metadata) carry no tensors
}

}  // namespace

extern "C" {

int lft_load_state_dict(const char* path, char*** names, lft_tensor** tensors, int32_t* n) {
  return guard("load_state_dict", [&] {
    std::vector<char> bytes = read_file(path);
    c10::IValue root = torch::pickle_load(bytes);
    if (!root.isGenericDict() && !root.isTensor())
      throw std::runtime_error(std::string("'") + path + "' holds a " + root.tagKind() + ", not a dict of tensors");
    std::vector<std::pair<std::string, at::Tensor>> items;
    collect(root, "", items);
    *n = static_cast<int32_t>(items.size());
    *names = static_cast<char**>(std::malloc(sizeof(char*) * std::max<size_t>(1, items.size())));
    *tensors = static_cast<lft_tensor*>(std::malloc(sizeof(lft_tensor) * std::max<size_t>(1, items.size())));
    for (size_t i = 0; i < items.size(); ++i) {
      (*names)[i] = copy_string(items[i].first);
      (*tensors)[i] = lft::wrap(items[i].second);
    }
  });
}

int lft_image_read(const char* path, int32_t color, lft_tensor* out) {
  return guard("image_read", [&] {
    cv::Mat m = cv::imread(path, color ? cv::IMREAD_COLOR : cv::IMREAD_GRAYSCALE);
    if (m.empty()) {
      std::ifstream probe(path);
      throw std::runtime_error(std::string("cannot read image '") + path + "': " +
                               (probe ? "not a readable image file" : "file not found or not readable"));
    }
    if (m.depth() != CV_8U) m.convertTo(m, CV_8U);
    if (color) cv::cvtColor(m, m, cv::COLOR_BGR2RGB);
    std::vector<int64_t> shape = {m.rows, m.cols};
    if (color) shape.push_back(3);
    at::Tensor t = at::empty(shape, at::kByte);
    for (int r = 0; r < m.rows; ++r) std::memcpy(t.data_ptr<uint8_t>() + r * m.cols * m.channels(), m.ptr(r), m.cols * m.channels());
    *out = lft::wrap(std::move(t));
  });
}

int lft_image_write(const char* path, lft_tensor image) {
  return guard("image_write", [&] {
    at::Tensor t = deref(image).detach().to(at::kCPU);
    if (t.scalar_type() != at::kByte) throw std::invalid_argument("image must be uint8, got " + std::string(c10::toString(t.scalar_type())));
    if (!(t.dim() == 2 || (t.dim() == 3 && (t.size(2) == 3 || t.size(2) == 1))))
      throw std::invalid_argument("image must be [H,W] or [H,W,3], got " + c10::str(t.sizes()));
    t = t.contiguous();
    int channels = t.dim() == 3 ? static_cast<int>(t.size(2)) : 1;
    cv::Mat m(static_cast<int>(t.size(0)), static_cast<int>(t.size(1)), CV_8UC(channels), t.data_ptr());
    cv::Mat bgr;
    if (channels == 3) cv::cvtColor(m, bgr, cv::COLOR_RGB2BGR); else bgr = m;
    if (!cv::imwrite(path, bgr)) throw std::runtime_error(std::string("cannot write image '") + path + "'");
  });
}

}
