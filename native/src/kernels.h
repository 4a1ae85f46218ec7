// The fused kernels of bert-ts (semantics: src/tensor/kernels.ts), OpenMP-parallel, GEMMs through gemm.cc.
#pragma once
#include <cstdint>

namespace bert {

enum Activation { ACT_GELU = 0, ACT_GELU_NEW = 1, ACT_GELU_FAST = 2, ACT_QUICK_GELU = 3, ACT_RELU = 4, ACT_SILU = 5,
                  ACT_TANH = 6, ACT_IDENTITY = 7 };

// Dropout of one call, drawn per example (semantics: src/tensor/kernels.ts): example b draws from
// dropoutHash(seed, firstExample + b).
struct Dropout {
  bool on;
  double p;
  uint32_t seed;
  uint32_t firstExample;
};

// y[m,n] = act(x[m,k] @ w[n,k]^T + bias[n]); act < 0 means none (bias may be null).
void linearForward(const float* x, const float* w, const float* bias, float* y, int64_t m, int64_t n, int64_t k,
                   int act);
// The epilogue of a GEMM already in y: y[i,:] = act(y[i,:] + bias) in one pass (bias may be null, act < 0: none).
void biasActivation(float* y, const float* bias, int64_t m, int64_t n, int act);
// int32 accumulators that alias y (read at an index before y is written there), hence the may_alias type.
typedef int32_t __attribute__((__may_alias__)) AliasedInt32;
// The int8 epilogue: y[i,j] = act(float(acc[i,j]) * rowScale[i] * colScale[j] + bias[j]), each product rounded to
// float in that order (the order of the js reference in src/tensor/quant-kernels.ts); bias may be null.
void dequantizeBiasActivation(const AliasedInt32* acc, const float* rowScale, const float* colScale, const float* bias,
                              float* y, int64_t m, int64_t n, int act);
void linearBackward(const float* dy, const float* x, const float* w, float* dx, float* dw, float* db, int64_t m,
                    int64_t n, int64_t k);
void activationForward(int act, const float* x, float* y, int64_t n);
void activationBackward(int act, const float* x, const float* dy, float* dx, int64_t n);
// With a residual, x += residual first (in place).
void layerNormForward(float* x, const float* residual, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                      int64_t rows, int64_t cols, double eps);
void layerNormBackward(const float* dy, const float* x, const float* gamma, const float* mean, const float* rstd,
                       float* dx, float* dgamma, float* dbeta, int64_t rows, int64_t cols);
void attentionForward(const float* q, const float* k, const float* v, int64_t ld, const float* maskBias, float* probs,
                      float* ctx, int64_t ldCtx, int64_t B, int64_t T, int64_t H, int64_t D, float scale,
                      const Dropout& dropout);
void attentionBackward(const float* dctx, int64_t ldCtx, const float* q, const float* k, const float* v, int64_t ld,
                       const float* probs, float* dq, float* dk, float* dv, int64_t B, int64_t T, int64_t H,
                       int64_t D, float scale, const Dropout& dropout);
void embeddingForward(const int32_t* ids, const float* table, float* out, int64_t n, int64_t dim, bool accumulate);
void embeddingBackward(const int32_t* ids, const float* dout, float* dtable, int64_t n, int64_t dim);
void add(float* dst, const float* src, int64_t n);
void dropoutForward(const float* x, float* y, int64_t n, int64_t exampleSize, const Dropout& dropout);
void softmaxCrossEntropy(const float* logits, const int32_t* labels, int64_t n, int64_t c, int32_t ignoreIndex,
                         float* dlogits, double gradScale, double* lossSum, int64_t* count);
void adamwStep(float* params, const float* grads, float* m, float* v, int64_t n, double lr, double beta1,
               double beta2, double eps, double weightDecay, double bc1, double bc2);
double sumSquares(const float* x, int64_t n);
void scale(float* x, int64_t n, double s);

}  // namespace bert
