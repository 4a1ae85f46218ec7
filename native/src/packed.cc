// Packed linear layers through oneDNN matmul primitives: the weight is reordered once into the primitive's
// preferred (blocked) layout, then every call runs on it — dnnl_sgemm instead packs the weight again on each call,
// which is most of the time at small batch (1 x 128 tokens). Without oneDNN every kind reports itself unsupported.
#include "packed.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <list>
#include <stdexcept>
#include <utility>
#include <vector>

#include "bert_native.h"
#include "kernels.h"

#ifdef BERT_USE_DNNL
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace bert {

namespace {

// Below this many elements, thread start-up costs more than the loop.
constexpr int64_t PAR_MIN = 32768;

// Adding and subtracting 1.5 * 2^23 rounds a float of magnitude < 2^22 to an integer, half to even, in the
// default rounding mode; unlike nearbyint it vectorises (the js reference does the same with Math.fround).
constexpr float ROUND_MAGIC = 12582912.0f;

}  // namespace

void quantizeRowsS8(const float* x, int8_t* q, float* scales, int64_t m, int64_t k) {
#pragma omp parallel for schedule(static) if (m * k > PAR_MIN)
  for (int64_t i = 0; i < m; i++) {
    const float* xr = x + i * k;
    int8_t* qr = q + i * k;
    float amax = 0.0f;
    for (int64_t j = 0; j < k; j++) amax = std::max(amax, std::fabs(xr[j]));
    if (!(amax > 0.0f)) {
      scales[i] = 0.0f;
      std::memset(qr, 0, static_cast<size_t>(k));
      continue;
    }
    scales[i] = amax / 127.0f;
    const float inv = 127.0f / amax;
    for (int64_t j = 0; j < k; j++) {
      const float v = std::min(127.0f, std::max(-127.0f, xr[j] * inv));
      qr[j] = static_cast<int8_t>((v + ROUND_MAGIC) - ROUND_MAGIC);
    }
  }
}

void floatToBf16(const float* x, uint16_t* y, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
  for (int64_t i = 0; i < n; i++) {
    uint32_t u;
    std::memcpy(&u, &x[i], sizeof u);
    const bool nan = (u & 0x7fffffffu) > 0x7f800000u;
    y[i] = static_cast<uint16_t>(nan ? ((u >> 16) | 0x40u) : ((u + 0x7fffu + ((u >> 16) & 1u)) >> 16));
  }
}

#ifdef BERT_USE_DNNL

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

// The row count the weight layout is chosen for; oneDNN 2.6 picks the same blocked layout for every M (checked
// for M = 1 .. 4096), and each later primitive is created for that layout explicitly.
constexpr int64_t LAYOUT_M = 128;
// Primitives kept per packed weight, most recently used first; oneDNN's own primitive cache sits behind them, so a
// row count that falls out of this list costs a cache lookup, not a new JIT kernel.
constexpr size_t PRIMS_PER_WEIGHT = 4;

dnnl::engine& cpuEngine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// One stream per thread (Node worker threads each run their own models).
dnnl::stream& cpuStream() {
  thread_local dnnl::stream s(cpuEngine());
  return s;
}

struct Types {
  dt src, wei, dst;
};

Types typesOf(int kind) {
  switch (kind) {
    case PACK_F32: return {dt::f32, dt::f32, dt::f32};
    case PACK_Q8: return {dt::s8, dt::s8, dt::s32};
    case PACK_BF16: return {dt::bf16, dt::bf16, dt::f32};
    default: throw std::runtime_error("unknown packed kind " + std::to_string(kind));
  }
}

// The bias is part of the float primitives (added to the float result, as the separate pass would: the same
// values) so that large outputs are not read and written again just to add it; int8 adds it in its dequantize pass.
bool fusesBias(int kind) { return kind != PACK_Q8; }

dnnl::matmul::primitive_desc matmulPd(int kind, int64_t m, int64_t n, int64_t k, const dnnl::memory::desc& wei,
                                      bool withBias = false) {
  const Types t = typesOf(kind);
  const dnnl::memory::desc src({m, k}, t.src, tag::ab), dst({m, n}, t.dst, tag::ab);
  if (!withBias) return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, wei, dst), cpuEngine());
  const dnnl::memory::desc bias({1, n}, dt::f32, tag::ab);
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, wei, bias, dst), cpuEngine());
}

unsigned isaBits() { return static_cast<unsigned>(dnnl_get_effective_cpu_isa()); }
bool hasAvx512Vnni() { return (isaBits() & 0x67u) == 0x67u; }
bool hasAvx512Bf16() { return (isaBits() & 0xe7u) == 0xe7u; }

thread_local std::vector<int8_t> qScratch;
thread_local std::vector<float> rowScaleScratch;
thread_local std::vector<uint16_t> bf16Scratch;

}  // namespace

struct PackedLinear {
  int kind = 0;
  int64_t n = 0, k = 0;
  dnnl::memory::desc wDesc;
  dnnl::memory wMem;
  std::vector<float> scales;  // q8: per output channel
  // Keyed by row count, negative for the variant with a bias argument.
  std::list<std::pair<int64_t, dnnl::matmul>> prims;
};

std::string packedUnsupportedReason(int kind) {
  if (kind == PACK_BF16 && !hasAvx512Bf16())
    return "bf16 needs a CPU with AVX512-BF16 or AMX (oneDNN dispatches to " + cpuIsa() + " here)";
  try {
    const Types t = typesOf(kind);
    const dnnl::memory::desc wei({64, 64}, t.wei, tag::any);
    const auto pd = matmulPd(kind, 8, 64, 64, wei);
    const std::string impl = pd.impl_info_str();
    if (impl.rfind("ref", 0) == 0) return "oneDNN has only its reference kernel for it on " + cpuIsa();
    // fp32 pays only where the weight really is packed (brgemm's blocked layout, AVX-512 in oneDNN 2.6); on AVX2 the
    // matmul is the same jit gemm as dnnl_sgemm over a plain copy: twice the memory for nothing.
    if (kind == PACK_F32 && impl.rfind("brg", 0) != 0)
      return "oneDNN has no prepacked fp32 kernel on " + cpuIsa() + " (" + impl + "), the plain GEMM is as fast";
  } catch (const dnnl::error& e) {
    return std::string("oneDNN has no kernel for it on ") + cpuIsa() + " (" + e.what() + ")";
  }
  return "";
}

int q8WeightMax() { return hasAvx512Vnni() ? 127 : 63; }

PackedLinear* packLinear(int kind, const void* w, const float* scales, int64_t n, int64_t k) {
  const std::string why = packedUnsupportedReason(kind);
  if (!why.empty()) throw std::runtime_error(why);
  if (n <= 0 || k <= 0) throw std::runtime_error("packLinear: the weight must have at least one row and column");
  auto p = new PackedLinear();
  try {
    p->kind = kind;
    p->n = n;
    p->k = k;
    const Types t = typesOf(kind);
    p->wDesc = matmulPd(kind, LAYOUT_M, n, k, dnnl::memory::desc({k, n}, t.wei, tag::any)).weights_desc();
    // PyTorch's [out, in] row-major is the (K, N) matrix with strides (1, K): oneDNN's "ba".
    const dnnl::memory::desc plain({k, n}, t.wei, tag::ba);
    dnnl::memory src(plain, cpuEngine(), const_cast<void*>(w));
    p->wMem = dnnl::memory(p->wDesc, cpuEngine());
    dnnl::reorder(src, p->wMem).execute(cpuStream(), src, p->wMem);
    cpuStream().wait();
    if (kind == PACK_Q8) p->scales.assign(scales, scales + n);
  } catch (const dnnl::error& e) {
    delete p;
    throw std::runtime_error(std::string("oneDNN could not pack the weight: ") + e.what());
  } catch (...) {
    delete p;
    throw;
  }
  return p;
}

void freePackedLinear(PackedLinear* p) { delete p; }
int64_t packedLinearBytes(const PackedLinear* p) {
  return static_cast<int64_t>(p->wDesc.get_size() + p->scales.size() * sizeof(float));
}
int packedLinearKind(const PackedLinear* p) { return p->kind; }
int64_t packedLinearN(const PackedLinear* p) { return p->n; }
int64_t packedLinearK(const PackedLinear* p) { return p->k; }

namespace {

dnnl::matmul& primitiveFor(PackedLinear* p, int64_t m, bool withBias) {
  const int64_t key = withBias ? -m : m;
  for (auto it = p->prims.begin(); it != p->prims.end(); ++it) {
    if (it->first == key) {
      p->prims.splice(p->prims.begin(), p->prims, it);
      return p->prims.front().second;
    }
  }
  p->prims.emplace_front(key, dnnl::matmul(matmulPd(p->kind, m, p->n, p->k, p->wDesc, withBias)));
  if (p->prims.size() > PRIMS_PER_WEIGHT) p->prims.pop_back();
  return p->prims.front().second;
}

}  // namespace

void packedLinearForward(PackedLinear* p, const float* x, const float* bias, float* y, int64_t m, int act) {
  const int64_t n = p->n, k = p->k;
  if (m == 0) return;
  try {
    const bool biasInside = bias != nullptr && fusesBias(p->kind);
    dnnl::matmul& prim = primitiveFor(p, m, biasInside);
    const Types t = typesOf(p->kind);
    const dnnl::memory::desc srcD({m, k}, t.src, tag::ab), dstD({m, n}, t.dst, tag::ab);
    void* srcPtr = const_cast<float*>(x);
    if (p->kind == PACK_Q8) {
      qScratch.resize(static_cast<size_t>(m * k));
      rowScaleScratch.resize(static_cast<size_t>(m));
      quantizeRowsS8(x, qScratch.data(), rowScaleScratch.data(), m, k);
      srcPtr = qScratch.data();
    } else if (p->kind == PACK_BF16) {
      bf16Scratch.resize(static_cast<size_t>(m * k));
      floatToBf16(x, bf16Scratch.data(), m * k);
      srcPtr = bf16Scratch.data();
    }
    // int8: the int32 accumulators land in y itself (same size) and the epilogue turns them into floats in place.
    dnnl::memory src(srcD, cpuEngine(), srcPtr), dst(dstD, cpuEngine(), y);
    if (biasInside) {
      dnnl::memory biasMem(dnnl::memory::desc({1, n}, dt::f32, tag::ab), cpuEngine(), const_cast<float*>(bias));
      prim.execute(cpuStream(),
                   {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, p->wMem}, {DNNL_ARG_BIAS, biasMem}, {DNNL_ARG_DST, dst}});
    } else {
      prim.execute(cpuStream(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, p->wMem}, {DNNL_ARG_DST, dst}});
    }
    cpuStream().wait();
  } catch (const dnnl::error& e) {
    throw std::runtime_error(std::string("oneDNN matmul failed: ") + e.what());
  }
  if (p->kind == PACK_Q8)
    dequantizeBiasActivation(reinterpret_cast<const AliasedInt32*>(y), rowScaleScratch.data(), p->scales.data(), bias,
                             y, m, n, act);
  else
    biasActivation(y, fusesBias(p->kind) ? nullptr : bias, m, n, act);
}

#else  // no oneDNN: nothing is packed (the model keeps the plain GEMM path)

struct PackedLinear {};

std::string packedUnsupportedReason(int) {
  return "packed weights need the oneDNN build of the native addon (libdnnl-dev, then npm run build:native)";
}
int q8WeightMax() { return 63; }
PackedLinear* packLinear(int kind, const void*, const float*, int64_t, int64_t) {
  throw std::runtime_error(packedUnsupportedReason(kind));
}
void freePackedLinear(PackedLinear* p) { delete p; }
int64_t packedLinearBytes(const PackedLinear*) { return 0; }
int packedLinearKind(const PackedLinear*) { return 0; }
int64_t packedLinearN(const PackedLinear*) { return 0; }
int64_t packedLinearK(const PackedLinear*) { return 0; }
void packedLinearForward(PackedLinear*, const float*, const float*, float*, int64_t, int) {
  throw std::runtime_error(packedUnsupportedReason(0));
}

#endif

}  // namespace bert
