// Generic operator calls through the c10 dispatcher, by schema name and overload.
// Arguments are converted to IValues by the schema's argument types (so an int reaches a float,
// Scalar or int[N] parameter as the schema wants); missing trailing arguments take the defaults.
#include <ATen/core/dispatch/Dispatcher.h>

#include <cstdlib>
#include <mutex>
#include <unordered_map>

#include "lft_internal.h"

using lft::deref;
using lft::guard;

namespace {

struct Op {
  c10::OperatorHandle handle;
  std::string title;  // "aten::name.overload" for messages
};

std::mutex ops_mutex;
std::unordered_map<std::string, std::unique_ptr<Op>> ops;

const char* kind_name(int32_t kind) {
  switch (kind) {
    case LFT_NONE: return "None";
    case LFT_TENSOR: return "Tensor";
    case LFT_TENSOR_LIST: return "Tensor[]";
    case LFT_INT: return "int";
    case LFT_INT_LIST: return "int[]";
    case LFT_DOUBLE: return "float";
    case LFT_DOUBLE_LIST: return "float[]";
    case LFT_BOOL: return "bool";
    case LFT_STRING: return "str";
    case LFT_GENERATOR: return "Generator";
    case LFT_DEVICE: return "Device";
  }
  return "unknown";
}

[[noreturn]] void mismatch(const c10::Argument& arg, const LftValue& v) {
  throw std::invalid_argument("argument '" + arg.name() + "' expects " + arg.type()->str() + ", got " +
                              kind_name(v.kind));
}

c10::IValue scalar_of(const LftValue& v, const c10::Argument& arg) {
  switch (v.kind) {
    case LFT_INT: return c10::IValue(c10::Scalar(v.i));
    case LFT_DOUBLE: return c10::IValue(c10::Scalar(v.d));
    case LFT_BOOL: return c10::IValue(c10::Scalar(v.i != 0));
  }
  mismatch(arg, v);
}

c10::IValue to_ivalue(const LftValue& v, const c10::Argument& arg) {
  c10::TypePtr type = arg.type();
  if (v.kind == LFT_NONE) {
    if (type->kind() == c10::TypeKind::OptionalType || type->kind() == c10::TypeKind::NoneType) return {};
    mismatch(arg, v);
  }
  if (auto opt = type->cast<c10::OptionalType>()) type = opt->getElementType();
  switch (type->kind()) {
    case c10::TypeKind::TensorType:
      if (v.kind == LFT_TENSOR) return deref(static_cast<lft_tensor>(v.p));
      if (v.kind == LFT_INT || v.kind == LFT_DOUBLE || v.kind == LFT_BOOL)  // a scalar where a tensor goes
        return at::scalar_tensor(scalar_of(v, arg).toScalar());
      break;
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
      if (v.kind == LFT_INT) return v.i;
      if (v.kind == LFT_BOOL) return static_cast<int64_t>(v.i != 0);
      break;
    case c10::TypeKind::FloatType:
      if (v.kind == LFT_DOUBLE) return v.d;
      if (v.kind == LFT_INT) return static_cast<double>(v.i);
      break;
    case c10::TypeKind::BoolType:
      if (v.kind == LFT_BOOL || v.kind == LFT_INT) return v.i != 0;
      break;
    case c10::TypeKind::NumberType:
      return scalar_of(v, arg);
    case c10::TypeKind::StringType:
      if (v.kind == LFT_STRING) return std::string(static_cast<const char*>(v.p));
      break;
    case c10::TypeKind::GeneratorType:
      if (v.kind == LFT_GENERATOR) return *static_cast<at::Generator*>(v.p);
      break;
    case c10::TypeKind::DeviceObjType:
      if (v.kind == LFT_DEVICE)
        return c10::Device(v.i == 1 ? c10::DeviceType::CUDA : c10::DeviceType::CPU,
                           static_cast<c10::DeviceIndex>(v.len));
      break;
    case c10::TypeKind::ListType: {
      c10::TypePtr elem = type->castRaw<c10::ListType>()->getElementType();
      auto ek = elem->kind();
      if (ek == c10::TypeKind::IntType || ek == c10::TypeKind::SymIntType) {
        if (v.kind == LFT_INT_LIST) {
          auto* p = static_cast<const int64_t*>(v.p);
          return c10::List<int64_t>(std::vector<int64_t>(p, p + v.len));
        }
        if (v.kind == LFT_INT)  // int[2] given one int: repeated, as in Python
          return c10::List<int64_t>(std::vector<int64_t>(arg.N().value_or(1), v.i));
      } else if (ek == c10::TypeKind::FloatType) {
        if (v.kind == LFT_DOUBLE_LIST) {
          auto* p = static_cast<const double*>(v.p);
          return c10::List<double>(std::vector<double>(p, p + v.len));
        }
      } else if (ek == c10::TypeKind::TensorType && v.kind == LFT_TENSOR_LIST) {
        c10::List<at::Tensor> list;
        auto* p = static_cast<lft_tensor const*>(v.p);
        for (int32_t i = 0; i < v.len; ++i) list.push_back(deref(p[i]));
        return list;
      } else if (ek == c10::TypeKind::OptionalType && v.kind == LFT_TENSOR_LIST) {  // Tensor?[]
        c10::List<c10::optional<at::Tensor>> list;
        auto* p = static_cast<lft_tensor const*>(v.p);
        for (int32_t i = 0; i < v.len; ++i)
          list.push_back(p[i] ? c10::optional<at::Tensor>(*p[i]) : c10::nullopt);
        return list;
      } else if (ek == c10::TypeKind::BoolType && v.kind == LFT_INT_LIST) {
        auto* p = static_cast<const int64_t*>(v.p);
        c10::List<bool> list;
        for (int32_t i = 0; i < v.len; ++i) list.push_back(p[i] != 0);
        return list;
      }
      break;
    }
    default:
      break;
  }
  mismatch(arg, v);
}

// Appends one result IValue to `out`, flattening tuples.
void push_result(const c10::IValue& iv, LftValue* out, int32_t max, int32_t& n) {
  if (iv.isTuple()) {
    for (const auto& e : iv.toTupleRef().elements()) push_result(e, out, max, n);
    return;
  }
  if (n >= max) throw std::out_of_range("operator returned more than " + std::to_string(max) + " results");
  LftValue r{};
  if (iv.isTensor()) {
    r.kind = LFT_TENSOR;
    r.p = lft::wrap(iv.toTensor());
  } else if (iv.isTensorList()) {
    auto list = iv.toTensorVector();
    auto** arr = static_cast<lft_tensor*>(std::malloc(sizeof(lft_tensor) * std::max<size_t>(1, list.size())));
    for (size_t i = 0; i < list.size(); ++i) arr[i] = lft::wrap(list[i]);
    r.kind = LFT_TENSOR_LIST;
    r.len = static_cast<int32_t>(list.size());
    r.p = arr;
  } else if (iv.isInt()) {
    r.kind = LFT_INT;
    r.i = iv.toInt();
  } else if (iv.isDouble()) {
    r.kind = LFT_DOUBLE;
    r.d = iv.toDouble();
  } else if (iv.isBool()) {
    r.kind = LFT_BOOL;
    r.i = iv.toBool();
  } else if (iv.isScalar()) {
    c10::Scalar s = iv.toScalar();
    if (s.isIntegral(false)) {
      r.kind = LFT_INT;
      r.i = s.toLong();
    } else if (s.isBoolean()) {
      r.kind = LFT_BOOL;
      r.i = s.toBool();
    } else {
      r.kind = LFT_DOUBLE;
      r.d = s.toDouble();
    }
  } else if (iv.isNone()) {
    r.kind = LFT_NONE;
  } else {
    throw std::invalid_argument("unsupported result type " + iv.tagKind());
  }
  out[n++] = r;
}

void release_results(LftValue* results, int32_t n) {
  for (int32_t i = 0; i < n; ++i) {
    if (results[i].kind == LFT_TENSOR) {
      delete static_cast<lft_tensor>(results[i].p);
    } else if (results[i].kind == LFT_TENSOR_LIST) {
      auto** arr = static_cast<lft_tensor*>(results[i].p);
      for (int32_t k = 0; k < results[i].len; ++k) delete arr[k];
      std::free(arr);
    }
  }
}

}  // namespace

extern "C" {

int lft_op_find(const char* name, const char* overload, void** op) {
  return guard("lft_op_find", [&] {
    std::string key = std::string(name) + "." + overload;
    std::lock_guard<std::mutex> lock(ops_mutex);
    auto it = ops.find(key);
    if (it == ops.end()) {
      auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
      if (!handle) throw std::invalid_argument(std::string("no operator '") + name + "' with overload '" + overload + "'");
      it = ops.emplace(key, std::make_unique<Op>(Op{*handle, overload[0] ? key : std::string(name)})).first;
    }
    *op = it->second.get();
  });
}

int lft_op_schema(void* op, char* buf, int32_t len) {
  return guard("lft_op_schema", [&] {
    std::ostringstream s;
    s << static_cast<Op*>(op)->handle.schema();
    std::string text = s.str();
    std::snprintf(buf, len, "%s", text.c_str());
  });
}

int lft_op_call(void* op_, const LftValue* args, int32_t nargs, LftValue* results, int32_t max_results,
                int32_t* nresults) {
  auto* op = static_cast<Op*>(op_);
  std::string call = op ? op->title : "lft_op_call";
  return guard(call.c_str(), [&] {
    const auto& schema = op->handle.schema();
    const auto& params = schema.arguments();
    std::vector<c10::optional<c10::IValue>> slots(params.size());
    int32_t positional = 0;
    for (int32_t i = 0; i < nargs; ++i) {
      size_t index;
      if (args[i].name) {
        auto found = schema.argumentIndexWithName(args[i].name);
        if (!found) throw std::invalid_argument(std::string("no argument named '") + args[i].name + "'");
        index = *found;
      } else {
        index = positional++;
        if (index >= params.size())
          throw std::invalid_argument("takes " + std::to_string(params.size()) + " arguments, got " +
                                      std::to_string(nargs));
      }
      if (slots[index]) throw std::invalid_argument("argument '" + params[index].name() + "' given twice");
      slots[index] = to_ivalue(args[i], params[index]);
    }
    torch::jit::Stack stack;
    stack.reserve(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      if (slots[i]) {
        stack.push_back(std::move(*slots[i]));
      } else if (params[i].default_value()) {
        stack.push_back(*params[i].default_value());
      } else {
        throw std::invalid_argument("missing argument '" + params[i].name() + "' (" + params[i].type()->str() + ")");
      }
    }
    op->handle.callBoxed(&stack);
    int32_t n = 0;
    try {
      for (const auto& r : stack) push_result(r, results, max_results, n);
    } catch (...) {
      release_results(results, n);  // nothing half-returned leaks
      throw;
    }
    *nresults = n;
  });
}

}
