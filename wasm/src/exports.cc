// The C ABI of bert_kernels.wasm: the fused kernels of native/src/kernels.cc (compiled for wasm32) and the SIMD128
// GEMM of gemm.cc, over pointers into this module's memory. Sizes are int32 (wasm32: no array exceeds 2^31 floats),
// so JavaScript calls them without BigInt. The TypeScript side (src/wasm/wasm-kernels.ts) copies arguments in and
// results out; its argument order mirrors the Kernels contract (src/tensor/kernels.ts).
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "../../native/src/bert_native.h"
#include "../../native/src/kernels.h"
#include "pool.h"

#define EXPORT extern "C" __attribute__((used, visibility("default")))

using bert::Dropout;

namespace bert {
// gemm.cc: a linear weight w[n,k] packed whole for the micro-kernel (packedWeightsSize floats), and y = x w^T over it.
int64_t packedWeightsSize(int64_t n, int64_t k);
void packWeights(const float* w, int64_t n, int64_t k, float* out);
void packedLinear(const float* x, const float* packed, float* y, int64_t m, int64_t n, int64_t k);
}  // namespace bert

static Dropout dropoutOf(double p, int32_t seed, int32_t firstExample, int64_t skip = 0) {
  // `skip` examples further on (a thread's share of the call), in the unsigned arithmetic the seeds wrap in.
  return Dropout{p > 0.0, p, static_cast<uint32_t>(seed),
                 static_cast<uint32_t>(firstExample) + static_cast<uint32_t>(skip)};
}

// Attention on the pool: one task per (example, head), or per example when dropout is on (its mask draws from the
// head index). Each task is the native kernel on its slice (B = 1; H = 1 per head), so every thread computes what
// the single-threaded call computes for that slice. fn(b, h0, heads, dropout of example b).
template <class F>
static void attentionSlices(int32_t B, int32_t H, double p, int32_t seed, int32_t firstExample, const F& fn) {
  if (p > 0.0)
    bert::parallelFor(B, [&](int64_t b) { fn(b, 0, H, dropoutOf(p, seed, firstExample, b)); });
  else
    bert::parallelFor(int64_t{B} * H, [&](int64_t bh) { fn(bh / H, bh % H, 1, dropoutOf(0.0, seed, firstExample)); });
}

EXPORT void* bk_alloc(int32_t bytes) { return std::malloc(static_cast<size_t>(bytes)); }
EXPORT void bk_free(void* p) { std::free(p); }

EXPORT void bk_gemm(int32_t transA, int32_t transB, int32_t m, int32_t n, int32_t k, float alpha, const float* a,
                    int32_t lda, const float* b, int32_t ldb, float beta, float* c, int32_t ldc) {
  bert::sgemm(transA != 0, transB != 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
// y = act(y + bias) with the rows split over the pool (element-wise: the same bits as one pass).
static void biasActivationRows(float* y, const float* bias, int32_t m, int32_t n, int32_t act) {
  bert::parallelRows(m, n, [&](int64_t r0, int64_t r1) { bert::biasActivation(y + r0 * n, bias, r1 - r0, n, act); });
}

EXPORT void bk_linear_forward(const float* x, const float* w, const float* bias, float* y, int32_t m, int32_t n,
                              int32_t k, int32_t act) {
  bert::linearForward(x, w, nullptr, y, m, n, k, -1);  // the GEMM alone; bias and activation on the pool's rows
  biasActivationRows(y, bias, m, n, act);
}
// Packs w[n,k] into a new block of this memory (freed with bk_free); 0 when out of memory.
EXPORT float* bk_pack_linear(const float* w, int32_t n, int32_t k) {
  float* out = static_cast<float*>(std::malloc(sizeof(float) * static_cast<size_t>(bert::packedWeightsSize(n, k))));
  if (out) bert::packWeights(w, n, k, out);
  return out;
}
EXPORT void bk_packed_linear_forward(const float* x, const float* packed, const float* bias, float* y, int32_t m,
                                     int32_t n, int32_t k, int32_t act) {
  bert::packedLinear(x, packed, y, m, n, k);
  biasActivationRows(y, bias, m, n, act);
}
EXPORT void bk_linear_backward(const float* dy, const float* x, const float* w, float* dx, float* dw, float* db,
                               int32_t m, int32_t n, int32_t k) {
  bert::linearBackward(dy, x, w, dx, dw, db, m, n, k);
}
EXPORT void bk_activation_forward(int32_t act, const float* x, float* y, int32_t n) {
  bert::parallelRanges(n, bert::PAR_MIN_ELEMENTS,
                       [&](int64_t i0, int64_t i1) { bert::activationForward(act, x + i0, y + i0, i1 - i0); });
}
EXPORT void bk_activation_backward(int32_t act, const float* x, const float* dy, float* dx, int32_t n) {
  bert::parallelRanges(n, bert::PAR_MIN_ELEMENTS, [&](int64_t i0, int64_t i1) {
    bert::activationBackward(act, x + i0, dy + i0, dx + i0, i1 - i0);
  });
}
EXPORT void bk_layer_norm_forward(float* x, const float* residual, const float* gamma, const float* beta, float* y,
                                  float* mean, float* rstd, int32_t rows, int32_t cols, double eps) {
  bert::parallelRows(rows, cols, [&](int64_t r0, int64_t r1) {
    const int64_t at = r0 * cols;
    bert::layerNormForward(x + at, residual ? residual + at : nullptr, gamma, beta, y + at, mean + r0, rstd + r0,
                           r1 - r0, cols, eps);
  });
}
EXPORT void bk_layer_norm_backward(const float* dy, const float* x, const float* gamma, const float* mean,
                                   const float* rstd, float* dx, float* dgamma, float* dbeta, int32_t rows,
                                   int32_t cols) {
  bert::layerNormBackward(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, cols);
}
EXPORT void bk_attention_forward(const float* q, const float* k, const float* v, int32_t ld, const float* maskBias,
                                 float* probs, float* ctx, int32_t ldCtx, int32_t B, int32_t T, int32_t H, int32_t D,
                                 float scale, double p, int32_t seed, int32_t firstExample) {
  attentionSlices(B, H, p, seed, firstExample, [&](int64_t b, int64_t h, int64_t heads, const Dropout& d) {
    const int64_t in = b * T * ld + h * D;
    bert::attentionForward(q + in, k + in, v + in, ld, maskBias + b * T, probs ? probs + (b * H + h) * T * T : nullptr,
                           ctx + b * T * ldCtx + h * D, ldCtx, 1, T, heads, D, scale, d);
  });
}
EXPORT void bk_attention_backward(const float* dctx, int32_t ldCtx, const float* q, const float* k, const float* v,
                                  int32_t ld, const float* probs, float* dq, float* dk, float* dv, int32_t B, int32_t T,
                                  int32_t H, int32_t D, float scale, double p, int32_t seed, int32_t firstExample) {
  attentionSlices(B, H, p, seed, firstExample, [&](int64_t b, int64_t h, int64_t heads, const Dropout& d) {
    const int64_t in = b * T * ld + h * D;
    bert::attentionBackward(dctx + b * T * ldCtx + h * D, ldCtx, q + in, k + in, v + in, ld, probs + (b * H + h) * T * T,
                            dq + in, dk + in, dv + in, 1, T, heads, D, scale, d);
  });
}
EXPORT void bk_add(float* dst, const float* src, int32_t n) { bert::add(dst, src, n); }
EXPORT void bk_dropout(const float* x, float* y, int32_t n, int32_t exampleSize, double p, int32_t seed,
                       int32_t firstExample) {
  // Whole examples per thread: each range draws from its examples' seeds as the single call would.
  const int64_t examples = (int64_t{n} + exampleSize - 1) / exampleSize;
  bert::parallelRanges(examples, (bert::PAR_MIN_ELEMENTS + exampleSize - 1) / exampleSize, [&](int64_t e0, int64_t e1) {
    const int64_t at = e0 * exampleSize, len = std::min<int64_t>(n, e1 * exampleSize) - at;
    bert::dropoutForward(x + at, y + at, len, exampleSize, dropoutOf(p, seed, firstExample, e0));
  });
}
// Writes the loss sum (double) and the counted rows (as a double) to out[0], out[1].
EXPORT void bk_softmax_cross_entropy(const float* logits, const int32_t* labels, int32_t n, int32_t c,
                                     int32_t ignoreIndex, float* dlogits, double gradScale, double* out) {
  int64_t count = 0;
  bert::softmaxCrossEntropy(logits, labels, n, c, ignoreIndex, dlogits, gradScale, &out[0], &count);
  out[1] = static_cast<double>(count);
}
EXPORT void bk_adamw_step(float* params, const float* grads, float* m, float* v, int32_t n, double lr, double beta1,
                          double beta2, double eps, double weightDecay, double bc1, double bc2) {
  bert::parallelRanges(n, bert::PAR_MIN_ELEMENTS, [&](int64_t i0, int64_t i1) {
    bert::adamwStep(params + i0, grads + i0, m + i0, v + i0, i1 - i0, lr, beta1, beta2, eps, weightDecay, bc1, bc2);
  });
}
EXPORT double bk_sum_squares(const float* x, int32_t n) { return bert::sumSquares(x, n); }
EXPORT void bk_scale(float* x, int32_t n, double s) {
  bert::parallelRanges(n, bert::PAR_MIN_ELEMENTS, [&](int64_t i0, int64_t i1) { bert::scale(x + i0, i1 - i0, s); });
}
