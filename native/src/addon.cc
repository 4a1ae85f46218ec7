// Node-API bindings of the bert-ts native kernels: argument checking (types, sizes) and dispatch to C++.
#include <node_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "bert_native.h"
#include "kernels.h"
#include "packed.h"
#include "mpi_binding.h"
#include "napi_values.h"

namespace {

struct ArgError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Args {
  napi_env env;
  const char* fn;
  napi_value argv[20];
  size_t argc = 20;

  Args(napi_env e, napi_callback_info info, const char* name, size_t expected) : env(e), fn(name) {
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    if (argc < expected)
      throw ArgError(std::string("bert-native ") + fn + ": expected " + std::to_string(expected) + " arguments, got " +
                     std::to_string(argc));
  }

  [[noreturn]] void fail(size_t i, const std::string& what) const {
    throw ArgError(std::string("bert-native ") + fn + ": argument " + std::to_string(i) + " " + what);
  }

  template <typename T>
  T* typed(size_t i, napi_typedarray_type want, const char* typeName, int64_t need, bool nullable = false) const {
    napi_valuetype vt;
    napi_typeof(env, argv[i], &vt);
    if (nullable && (vt == napi_null || vt == napi_undefined)) return nullptr;
    bool isTa = false;
    napi_is_typedarray(env, argv[i], &isTa);
    if (!isTa) fail(i, std::string("must be a ") + typeName);
    napi_typedarray_type type;
    size_t length;
    void* data;
    napi_get_typedarray_info(env, argv[i], &type, &length, &data, nullptr, nullptr);
    if (type != want) fail(i, std::string("must be a ") + typeName);
    if (need > 0 && static_cast<int64_t>(length) < need)
      fail(i, "is too short: " + std::to_string(length) + " elements, the shapes need " + std::to_string(need));
    return static_cast<T*>(data);
  }
  float* f32(size_t i, int64_t need, bool nullable = false) const {
    return typed<float>(i, napi_float32_array, "Float32Array", need, nullable);
  }
  int32_t* i32(size_t i, int64_t need) const { return typed<int32_t>(i, napi_int32_array, "Int32Array", need); }
  int8_t* i8(size_t i, int64_t need) const { return typed<int8_t>(i, napi_int8_array, "Int8Array", need); }
  uint16_t* u16(size_t i, int64_t need) const { return typed<uint16_t>(i, napi_uint16_array, "Uint16Array", need); }
  double num(size_t i) const {
    double d;
    if (napi_get_value_double(env, argv[i], &d) != napi_ok) fail(i, "must be a number");
    return d;
  }
  int64_t dim(size_t i) const {
    const double d = num(i);
    if (!(d >= 0) || d != std::floor(d) || d > 9.0e15) fail(i, "must be a non-negative integer, got " + std::to_string(d));
    return static_cast<int64_t>(d);
  }
  bool flag(size_t i) const {
    bool b;
    if (napi_get_value_bool(env, argv[i], &b) != napi_ok) fail(i, "must be a boolean");
    return b;
  }
  int32_t i32num(size_t i) const {
    int32_t v;
    if (napi_get_value_int32(env, argv[i], &v) != napi_ok) fail(i, "must be a number");
    return v;
  }
  // Dropout as (p, seed, firstExample) arguments from iP on; p <= 0 means no dropout.
  bert::Dropout dropout(size_t iP) const {
    const double p = num(iP);
    if (!(p >= 0 && p < 1)) fail(iP, "(dropout p) must be in [0, 1), got " + std::to_string(p));
    return bert::Dropout{p > 0, p, static_cast<uint32_t>(i32num(iP + 1)), static_cast<uint32_t>(i32num(iP + 2))};
  }
};

// Elements a row-major [rows, cols] matrix with leading dimension ld spans.
int64_t span(int64_t rows, int64_t cols, int64_t ld) { return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols; }

template <typename F>
napi_value guarded(napi_env env, F&& body) {
  try {
    return body();
  } catch (const ArgError& e) {
    napi_throw_range_error(env, "ERR_BERT_NATIVE_ARGUMENT", e.what());
  } catch (const std::exception& e) {
    napi_throw_error(env, "ERR_BERT_NATIVE", (std::string("bert-native: ") + e.what()).c_str());
  }
  return nullptr;
}

using bert::number;
using bert::undef;

using GemmFn = void (*)(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
                        float, float*, int64_t);

napi_value gemmCommon(napi_env env, napi_callback_info info, const char* name, GemmFn fn) {
  return guarded(env, [&] {
    Args a(env, info, name, 13);
    const bool tA = a.flag(0), tB = a.flag(1);
    const int64_t m = a.dim(2), n = a.dim(3), k = a.dim(4);
    const int64_t lda = a.dim(7), ldb = a.dim(9), ldc = a.dim(12);
    const int64_t aRows = tA ? k : m, aCols = tA ? m : k, bRows = tB ? n : k, bCols = tB ? k : n;
    if (lda < std::max<int64_t>(1, aCols)) a.fail(7, "(lda) must be >= " + std::to_string(aCols));
    if (ldb < std::max<int64_t>(1, bCols)) a.fail(9, "(ldb) must be >= " + std::to_string(bCols));
    if (ldc < std::max<int64_t>(1, n)) a.fail(12, "(ldc) must be >= " + std::to_string(n));
    const float* A = a.f32(6, span(aRows, aCols, lda));
    const float* B = a.f32(8, span(bRows, bCols, ldb));
    float* C = a.f32(11, span(m, n, ldc));
    fn(tA, tB, m, n, k, static_cast<float>(a.num(5)), A, lda, B, ldb, static_cast<float>(a.num(10)), C, ldc);
    return undef(env);
  });
}

napi_value Gemm(napi_env env, napi_callback_info info) { return gemmCommon(env, info, "gemm", bert::sgemm); }
napi_value SgemmReference(napi_env env, napi_callback_info info) {
  return gemmCommon(env, info, "sgemmReference", bert::sgemmReference);
}
void builtinParallel(bool tA, bool tB, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                     const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  bert::sgemmBuiltin(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, true);
}
napi_value SgemmBuiltin(napi_env env, napi_callback_info info) {
  return gemmCommon(env, info, "sgemmBuiltin", builtinParallel);
}

int activationCode(const Args& a, size_t i) {
  const int32_t code = a.i32num(i);
  if (code < 0 || code > bert::ACT_IDENTITY) a.fail(i, "is not a known activation code");
  return code;
}

// -1 (none) or an activation code.
int optionalActivationCode(const Args& a, size_t i) {
  const int32_t code = a.i32num(i);
  return code == -1 ? -1 : activationCode(a, i);
}

napi_value LinearForward(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "linearForward", 7);
    const int64_t m = a.dim(4), n = a.dim(5), k = a.dim(6);
    const float* x = a.f32(0, m * k);
    const float* w = a.f32(1, n * k);
    const float* bias = a.f32(2, n, true);
    float* y = a.f32(3, m * n);
    const int act = a.argc > 7 ? optionalActivationCode(a, 7) : -1;
    bert::linearForward(x, w, bias, y, m, n, k, act);
    return undef(env);
  });
}

napi_value LinearBackward(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "linearBackward", 9);
    const int64_t m = a.dim(6), n = a.dim(7), k = a.dim(8);
    const float* dy = a.f32(0, m * n);
    const float* x = a.f32(1, m * k);
    const float* w = a.f32(2, n * k);
    float* dx = a.f32(3, m * k, true);
    float* dw = a.f32(4, n * k);
    float* db = a.f32(5, n, true);
    bert::linearBackward(dy, x, w, dx, dw, db, m, n, k);
    return undef(env);
  });
}

napi_value ActivationForward(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "activationForward", 4);
    const int act = activationCode(a, 0);
    const int64_t n = a.dim(3);
    bert::activationForward(act, a.f32(1, n), a.f32(2, n), n);
    return undef(env);
  });
}

napi_value ActivationBackward(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "activationBackward", 5);
    const int act = activationCode(a, 0);
    const int64_t n = a.dim(4);
    bert::activationBackward(act, a.f32(1, n), a.f32(2, n), a.f32(3, n), n);
    return undef(env);
  });
}

napi_value LayerNormForward(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "layerNormForward", 9);
    const int64_t rows = a.dim(6), cols = a.dim(7);
    const float* residual = a.argc > 9 ? a.f32(9, rows * cols, true) : nullptr;
    bert::layerNormForward(a.f32(0, rows * cols), residual, a.f32(1, cols), a.f32(2, cols), a.f32(3, rows * cols),
                           a.f32(4, rows), a.f32(5, rows), rows, cols, a.num(8));
    return undef(env);
  });
}

napi_value LayerNormBackward(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "layerNormBackward", 10);
    const int64_t rows = a.dim(8), cols = a.dim(9);
    bert::layerNormBackward(a.f32(0, rows * cols), a.f32(1, rows * cols), a.f32(2, cols), a.f32(3, rows),
                            a.f32(4, rows), a.f32(5, rows * cols), a.f32(6, cols), a.f32(7, cols), rows, cols);
    return undef(env);
  });
}

// attentionForward(q, k, v, ld, maskBias, probs, ctx, ldCtx, B, T, H, D, scale, p, seed, firstExample)
napi_value AttentionForward(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "attentionForward", 16);
    const int64_t ld = a.dim(3), ldCtx = a.dim(7), B = a.dim(8), T = a.dim(9), H = a.dim(10), D = a.dim(11);
    if (ld < H * D) a.fail(3, "(ld) must be >= heads * headDim");
    if (ldCtx < H * D) a.fail(7, "(ldCtx) must be >= heads * headDim");
    const int64_t qkv = span(B * T, H * D, ld);
    bert::attentionForward(a.f32(0, qkv), a.f32(1, qkv), a.f32(2, qkv), ld, a.f32(4, B * T), a.f32(5, B * H * T * T, true),
                           a.f32(6, span(B * T, H * D, ldCtx)), ldCtx, B, T, H, D, static_cast<float>(a.num(12)),
                           a.dropout(13));
    return undef(env);
  });
}

// attentionBackward(dctx, ldCtx, q, k, v, ld, probs, dq, dk, dv, B, T, H, D, scale, p, seed, firstExample)
napi_value AttentionBackward(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "attentionBackward", 18);
    const int64_t ldCtx = a.dim(1), ld = a.dim(5), B = a.dim(10), T = a.dim(11), H = a.dim(12), D = a.dim(13);
    if (ld < H * D) a.fail(5, "(ld) must be >= heads * headDim");
    if (ldCtx < H * D) a.fail(1, "(ldCtx) must be >= heads * headDim");
    const int64_t qkv = span(B * T, H * D, ld);
    bert::attentionBackward(a.f32(0, span(B * T, H * D, ldCtx)), ldCtx, a.f32(2, qkv), a.f32(3, qkv), a.f32(4, qkv), ld,
                            a.f32(6, B * H * T * T), a.f32(7, qkv), a.f32(8, qkv), a.f32(9, qkv), B, T, H, D,
                            static_cast<float>(a.num(14)), a.dropout(15));
    return undef(env);
  });
}

napi_value Add(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "add", 3);
    const int64_t n = a.dim(2);
    bert::add(a.f32(0, n), a.f32(1, n), n);
    return undef(env);
  });
}

napi_value EmbeddingForward(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "embeddingForward", 6);
    const int64_t n = a.dim(3), dim = a.dim(4);
    const int32_t* ids = a.i32(0, n);
    const float* table = a.f32(1, 0);
    // The table's row count bounds the ids: checked here so a bad id is an error, not a read out of bounds.
    size_t tableLen;
    napi_get_typedarray_info(env, a.argv[1], nullptr, &tableLen, nullptr, nullptr, nullptr);
    const int64_t rows = dim > 0 ? static_cast<int64_t>(tableLen) / dim : 0;
    for (int64_t i = 0; i < n; i++)
      if (ids[i] < 0 || ids[i] >= rows)
        a.fail(0, "holds id " + std::to_string(ids[i]) + " at " + std::to_string(i) + ", outside the table's " +
                      std::to_string(rows) + " rows");
    bert::embeddingForward(ids, table, a.f32(2, n * dim), n, dim, a.flag(5));
    return undef(env);
  });
}

napi_value EmbeddingBackward(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "embeddingBackward", 5);
    const int64_t n = a.dim(3), dim = a.dim(4);
    const int32_t* ids = a.i32(0, n);
    float* dtable = a.f32(2, 0);
    size_t tableLen;
    napi_get_typedarray_info(env, a.argv[2], nullptr, &tableLen, nullptr, nullptr, nullptr);
    const int64_t rows = dim > 0 ? static_cast<int64_t>(tableLen) / dim : 0;
    for (int64_t i = 0; i < n; i++)
      if (ids[i] < 0 || ids[i] >= rows)
        a.fail(0, "holds id " + std::to_string(ids[i]) + " at " + std::to_string(i) + ", outside the table's " +
                      std::to_string(rows) + " rows");
    bert::embeddingBackward(ids, a.f32(1, n * dim), dtable, n, dim);
    return undef(env);
  });
}

// dropoutForward(x, y, n, exampleSize, p, seed, firstExample); backward is the same mask applied to dy.
napi_value DropoutForward(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "dropout", 7);
    const int64_t n = a.dim(2), exampleSize = a.dim(3);
    if (exampleSize < 1) a.fail(3, "(exampleSize) must be >= 1");
    bert::Dropout d = a.dropout(4);
    bert::dropoutForward(a.f32(0, n), a.f32(1, n), n, exampleSize, d);
    return undef(env);
  });
}

napi_value SoftmaxCrossEntropy(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "softmaxCrossEntropy", 7);
    const int64_t n = a.dim(2), c = a.dim(3);
    const int32_t ignore = a.i32num(4);
    const int32_t* labels = a.i32(1, n);
    for (int64_t i = 0; i < n; i++)
      if (labels[i] != ignore && (labels[i] < 0 || labels[i] >= c))
        a.fail(1, "holds label " + std::to_string(labels[i]) + " at row " + std::to_string(i) + ", outside [0, " +
                      std::to_string(c) + ") and not the ignore index " + std::to_string(ignore));
    double lossSum = 0;
    int64_t count = 0;
    bert::softmaxCrossEntropy(a.f32(0, n * c), labels, n, c, ignore, a.f32(5, n * c, true), a.num(6), &lossSum, &count);
    napi_value out;
    napi_create_object(env, &out);
    napi_set_named_property(env, out, "lossSum", number(env, lossSum));
    napi_set_named_property(env, out, "count", number(env, static_cast<double>(count)));
    return out;
  });
}

napi_value AdamwStep(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "adamwStep", 12);
    const int64_t n = a.dim(4);
    bert::adamwStep(a.f32(0, n), a.f32(1, n), a.f32(2, n), a.f32(3, n), n, a.num(5), a.num(6), a.num(7), a.num(8),
                    a.num(9), a.num(10), a.num(11));
    return undef(env);
  });
}

napi_value SumSquares(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "sumSquares", 2);
    const int64_t n = a.dim(1);
    return number(env, bert::sumSquares(a.f32(0, n), n));
  });
}

napi_value Scale(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "scale", 3);
    const int64_t n = a.dim(1);
    bert::scale(a.f32(0, n), n, a.num(2));
    return undef(env);
  });
}

// ---- packed linear layers (packed.cc): the handle is a type-tagged external owning the packed weight ----

const napi_type_tag PACKED_TAG = {0x6265727470616b64ULL, 0x9d3c1a5e77f20b41ULL};

bert::PackedLinear* packedHandle(const Args& a, size_t i) {
  bool ok = false;
  napi_valuetype vt;
  napi_typeof(a.env, a.argv[i], &vt);
  if (vt == napi_external) napi_check_object_type_tag(a.env, a.argv[i], &PACKED_TAG, &ok);
  if (!ok) a.fail(i, "must be a packed weight made by packLinear");
  void* data = nullptr;
  napi_get_value_external(a.env, a.argv[i], &data);
  return static_cast<bert::PackedLinear*>(data);
}

void finalizePacked(napi_env env, void* data, void*) {
  auto* p = static_cast<bert::PackedLinear*>(data);
  int64_t adjusted;
  napi_adjust_external_memory(env, -bert::packedLinearBytes(p), &adjusted);
  bert::freePackedLinear(p);
}

// packLinear(kind, w, scales, n, k): w Float32Array (0: fp32), Int8Array + Float32Array scales[n] (1: q8) or
// Uint16Array of bf16 bits (2: bf16), [n, k] row-major.
napi_value PackLinear(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "packLinear", 5);
    const int32_t kind = a.i32num(0);
    const int64_t n = a.dim(3), k = a.dim(4);
    if (n == 0 || k == 0) a.fail(3, "(n) and k must be positive");
    const void* w = nullptr;
    const float* scales = nullptr;
    if (kind == bert::PACK_F32) w = a.f32(1, n * k);
    else if (kind == bert::PACK_Q8) {
      w = a.i8(1, n * k);
      scales = a.f32(2, n);
    } else if (kind == bert::PACK_BF16) w = a.u16(1, n * k);
    else a.fail(0, "is not a packed kind (0 fp32, 1 q8, 2 bf16)");
    bert::PackedLinear* p = bert::packLinear(kind, w, scales, n, k);
    napi_value out;
    if (napi_create_external(env, p, finalizePacked, nullptr, &out) != napi_ok) {
      bert::freePackedLinear(p);
      throw std::runtime_error("packLinear: could not create the handle");
    }
    napi_type_tag_object(env, out, &PACKED_TAG);
    int64_t adjusted;
    napi_adjust_external_memory(env, bert::packedLinearBytes(p), &adjusted);
    return out;
  });
}

// packedLinearForward(packed, x, bias, y, m, act)
napi_value PackedLinearForward(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "packedLinearForward", 6);
    bert::PackedLinear* p = packedHandle(a, 0);
    const int64_t m = a.dim(4), n = bert::packedLinearN(p), k = bert::packedLinearK(p);
    const float* x = a.f32(1, m * k);
    const float* bias = a.f32(2, n, true);
    float* y = a.f32(3, m * n);
    if (x == y) a.fail(3, "(y) must not be x");
    bert::packedLinearForward(p, x, bias, y, m, optionalActivationCode(a, 5));
    return undef(env);
  });
}

napi_value reasonOrNull(napi_env env, int kind) {
  const std::string why = bert::packedUnsupportedReason(kind);
  napi_value v;
  if (why.empty()) napi_get_null(env, &v);
  else napi_create_string_utf8(env, why.c_str(), why.size(), &v);
  return v;
}

// { fp32, q8, bf16 }: null where supported, else the reason; q8WeightMax: 127 (VNNI) or 63.
napi_value PackedSupport(napi_env env, napi_callback_info) {
  return guarded(env, [&] {
    napi_value out;
    napi_create_object(env, &out);
    napi_set_named_property(env, out, "fp32", reasonOrNull(env, bert::PACK_F32));
    napi_set_named_property(env, out, "q8", reasonOrNull(env, bert::PACK_Q8));
    napi_set_named_property(env, out, "bf16", reasonOrNull(env, bert::PACK_BF16));
    napi_set_named_property(env, out, "q8WeightMax", number(env, bert::q8WeightMax()));
    return out;
  });
}

// quantizeRows(x, q, scales, m, k) and toBf16(x, y, n): the conversions of the packed paths, for the tests.
napi_value QuantizeRows(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "quantizeRows", 5);
    const int64_t m = a.dim(3), k = a.dim(4);
    bert::quantizeRowsS8(a.f32(0, m * k), a.i8(1, m * k), a.f32(2, m), m, k);
    return undef(env);
  });
}

napi_value ToBf16(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "toBf16", 3);
    const int64_t n = a.dim(2);
    bert::floatToBf16(a.f32(0, n), a.u16(1, n), n);
    return undef(env);
  });
}

napi_value Info(napi_env env, napi_callback_info) {
  napi_value out, s;
  napi_create_object(env, &out);
  const std::string name = bert::backendName();
  napi_create_string_utf8(env, name.c_str(), name.size(), &s);
  napi_set_named_property(env, out, "library", s);
  napi_set_named_property(env, out, "threads", number(env, bert::numThreads()));
  const std::string isa = bert::cpuIsa();
  napi_create_string_utf8(env, isa.c_str(), isa.size(), &s);
  napi_set_named_property(env, out, "isa", s);
  return out;
}

napi_value SetNumThreads(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "setNumThreads", 1);
    bert::setNumThreads(a.i32num(0));
    return undef(env);
  });
}

napi_value Init(napi_env env, napi_value exports) {
  bert::defineMethods(env, exports,
      {{"gemm", Gemm}, {"sgemmReference", SgemmReference}, {"sgemmBuiltin", SgemmBuiltin},
       {"linearForward", LinearForward}, {"linearBackward", LinearBackward},
       {"activationForward", ActivationForward}, {"activationBackward", ActivationBackward},
       {"layerNormForward", LayerNormForward}, {"layerNormBackward", LayerNormBackward},
       {"attentionForward", AttentionForward}, {"attentionBackward", AttentionBackward},
       {"embeddingForward", EmbeddingForward}, {"embeddingBackward", EmbeddingBackward}, {"add", Add},
       {"dropout", DropoutForward}, {"softmaxCrossEntropy", SoftmaxCrossEntropy}, {"adamwStep", AdamwStep},
       {"sumSquares", SumSquares}, {"scale", Scale}, {"packLinear", PackLinear},
       {"packedLinearForward", PackedLinearForward}, {"packedSupport", PackedSupport},
       {"quantizeRows", QuantizeRows}, {"toBf16", ToBf16}, {"info", Info}, {"setNumThreads", SetNumThreads}});
  bert::registerMpi(env, exports);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
