// Fused kernels of the bert-ts native backend: activations, layernorm, attention, embeddings, dropout,
// cross-entropy, AdamW. Semantics follow src/tensor/kernels.ts; every loop is OpenMP-parallel when large.
#include "kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "bert_native.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace bert {

namespace {

// Below this many elements, thread start-up costs more than the loop.
constexpr int64_t PAR_MIN = 32768;

inline float bitsToFloat(int32_t i) {
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
}

// exp in float with Cephes' polynomial (about 1 ulp), written so that loops over it vectorise.
inline float fastExp(float x) {
  const float xc = std::min(std::max(x, -87.33f), 88.37f);
  const float fn = std::floor(xc * 1.44269504088896341f + 0.5f);
  float r = xc - fn * 0.693359375f;
  r = r + fn * 2.12194440e-4f;
  const float r2 = r * r;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r2 + r + 1.0f;
  const float s = bitsToFloat((static_cast<int32_t>(fn) + 127) << 23);
  return x < -87.33f ? 0.0f : y * s;
}

// erf with Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7, below float resolution of GELU's output).
inline float fastErf(float x) {
  const float ax = std::fabs(x);
  const float t = 1.0f / (1.0f + 0.3275911f * ax);
  float p = 1.061405429f;
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  const float y = 1.0f - p * t * fastExp(-ax * ax);
  return x < 0.0f ? -y : y;
}

inline float fastTanh(float x) {
  // 1 - 2 / (e^{2x} + 1) saturates cleanly; for tiny |x| use x itself (the formula cancels there).
  const float e = fastExp(2.0f * x);
  const float t = 1.0f - 2.0f / (e + 1.0f);
  return std::fabs(x) < 1e-4f ? x : t;
}

inline float sigmoid(float x) { return 1.0f / (1.0f + fastExp(-x)); }

constexpr float SQRT1_2 = 0.70710678118654752f;
constexpr float INV_SQRT_2PI = 0.39894228040143268f;
constexpr float GELU_TANH_C = 0.79788456080286536f;  // sqrt(2/pi)

template <int ACT>
inline float actForward(float x) {
  if constexpr (ACT == ACT_GELU) return 0.5f * x * (1.0f + fastErf(x * SQRT1_2));
  else if constexpr (ACT == ACT_GELU_NEW || ACT == ACT_GELU_FAST)
    return 0.5f * x * (1.0f + fastTanh(GELU_TANH_C * (x + 0.044715f * x * x * x)));
  else if constexpr (ACT == ACT_QUICK_GELU) return x * sigmoid(1.702f * x);
  else if constexpr (ACT == ACT_RELU) return x > 0.0f ? x : 0.0f;
  else if constexpr (ACT == ACT_SILU) return x * sigmoid(x);
  else if constexpr (ACT == ACT_TANH) return fastTanh(x);
  else return x;
}

template <int ACT>
inline float actGrad(float x) {
  if constexpr (ACT == ACT_GELU) return 0.5f * (1.0f + fastErf(x * SQRT1_2)) + x * INV_SQRT_2PI * fastExp(-0.5f * x * x);
  else if constexpr (ACT == ACT_GELU_NEW || ACT == ACT_GELU_FAST) {
    const float t = fastTanh(GELU_TANH_C * (x + 0.044715f * x * x * x));
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * GELU_TANH_C * (1.0f + 3.0f * 0.044715f * x * x);
  } else if constexpr (ACT == ACT_QUICK_GELU) {
    const float s = sigmoid(1.702f * x);
    return s + 1.702f * x * s * (1.0f - s);
  } else if constexpr (ACT == ACT_RELU) return x > 0.0f ? 1.0f : 0.0f;
  else if constexpr (ACT == ACT_SILU) {
    const float s = sigmoid(x);
    return s * (1.0f + x * (1.0f - s));
  } else if constexpr (ACT == ACT_TANH) {
    const float t = fastTanh(x);
    return 1.0f - t * t;
  } else return 1.0f;
}

template <int ACT>
void actForwardLoop(const float* x, float* y, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
  for (int64_t i = 0; i < n; i++) y[i] = actForward<ACT>(x[i]);
}

template <int ACT>
void actBackwardLoop(const float* x, const float* dy, float* dx, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
  for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * actGrad<ACT>(x[i]);
}

// Calls f(std::integral_constant<int, ACT>{}) for the activation code act (identity for any other code), so that
// each activation gets its own vectorised loop.
template <typename F>
void dispatchActivation(int act, F&& f) {
  switch (act) {
    case ACT_GELU: f(std::integral_constant<int, ACT_GELU>{}); break;
    case ACT_GELU_NEW: f(std::integral_constant<int, ACT_GELU_NEW>{}); break;
    case ACT_GELU_FAST: f(std::integral_constant<int, ACT_GELU_FAST>{}); break;
    case ACT_QUICK_GELU: f(std::integral_constant<int, ACT_QUICK_GELU>{}); break;
    case ACT_RELU: f(std::integral_constant<int, ACT_RELU>{}); break;
    case ACT_SILU: f(std::integral_constant<int, ACT_SILU>{}); break;
    case ACT_TANH: f(std::integral_constant<int, ACT_TANH>{}); break;
    default: f(std::integral_constant<int, ACT_IDENTITY>{}); break;
  }
}

inline uint32_t dropoutThreshold(double p) {
  const double t = std::floor(p * 4294967296.0);
  return t >= 4294967295.0 ? 0xffffffffu : static_cast<uint32_t>(t);
}

std::vector<float>& scratch(size_t n) {
  thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf;
}

// Splits [0, n) into equal contiguous parts, one per thread.
inline void threadRange(int64_t n, int64_t& begin, int64_t& end) {
#ifdef _OPENMP
  const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
#else
  const int64_t t = 0, nt = 1;
#endif
  const int64_t chunk = (n + nt - 1) / nt;
  begin = std::min(n, t * chunk);
  end = std::min(n, begin + chunk);
}

// Thread id and count inside a parallel region (0 and 1 outside one, or without OpenMP).
inline int threadId() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}
inline int threadCount() {
#ifdef _OPENMP
  return omp_get_num_threads();
#else
  return 1;
#endif
}
inline int maxThreads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// out[j] += parts[0][j] + parts[1][j] + ... in thread order, columns split between the threads: the sum does not
// depend on which thread finishes first, so the same inputs give the same bits on every run (exact resume).
// Every thread of the enclosing parallel region must call it after storing its own partial in parts[threadId()].
inline void addPartsInThreadOrder(float* const* parts, float* out, int64_t n) {
#pragma omp barrier
  const int nt = threadCount();
  int64_t c0, c1;
  threadRange(n, c0, c1);
  for (int t = 0; t < nt; t++) {
    const float* p = parts[t];
    for (int64_t j = c0; j < c1; j++) out[j] += p[j];
  }
}

}  // namespace

namespace {

// y[i, :] = act(y[i, :] + bias) over the rows, in one pass (bias may be null).
template <int ACT>
void biasActivationRows(float* y, const float* bias, int64_t m, int64_t n) {
#pragma omp parallel for schedule(static) if (m * n > PAR_MIN)
  for (int64_t i = 0; i < m; i++) {
    float* row = y + i * n;
    if (bias) {
#pragma omp simd
      for (int64_t j = 0; j < n; j++) row[j] = actForward<ACT>(row[j] + bias[j]);
    } else {
#pragma omp simd
      for (int64_t j = 0; j < n; j++) row[j] = actForward<ACT>(row[j]);
    }
  }
}

}  // namespace

void linearForward(const float* x, const float* w, const float* bias, float* y, int64_t m, int64_t n, int64_t k,
                   int act) {
  // GEMM into y, then bias and activation in one pass over y (the order of the js kernel: round(x w^T) + b, then act).
  sgemm(false, true, m, n, k, 1.0f, x, k, w, k, 0.0f, y, n);
  biasActivation(y, bias, m, n, act);
}

void biasActivation(float* y, const float* bias, int64_t m, int64_t n, int act) {
  if (!bias && (act < 0 || act == ACT_IDENTITY)) return;
  dispatchActivation(act, [&](auto a) { biasActivationRows<decltype(a)::value>(y, bias, m, n); });
}

namespace {

template <int ACT>
void dequantizeRows(const AliasedInt32* acc, const float* rowScale, const float* colScale, const float* bias, float* y,
                    int64_t m, int64_t n) {
#pragma omp parallel for schedule(static) if (m * n > PAR_MIN)
  for (int64_t i = 0; i < m; i++) {
    const AliasedInt32* a = acc + i * n;
    float* row = y + i * n;
    const float rs = rowScale[i];
    if (bias) {
      for (int64_t j = 0; j < n; j++) row[j] = actForward<ACT>(static_cast<float>(a[j]) * rs * colScale[j] + bias[j]);
    } else {
      for (int64_t j = 0; j < n; j++) row[j] = actForward<ACT>(static_cast<float>(a[j]) * rs * colScale[j]);
    }
  }
}

}  // namespace

void dequantizeBiasActivation(const AliasedInt32* acc, const float* rowScale, const float* colScale, const float* bias,
                              float* y, int64_t m, int64_t n, int act) {
  dispatchActivation(act < 0 ? ACT_IDENTITY : act,
                     [&](auto a) { dequantizeRows<decltype(a)::value>(acc, rowScale, colScale, bias, y, m, n); });
}

void linearBackward(const float* dy, const float* x, const float* w, float* dx, float* dw, float* db, int64_t m,
                    int64_t n, int64_t k) {
  if (dx) sgemm(false, false, m, k, n, 1.0f, dy, n, w, k, 0.0f, dx, k);
  sgemm(true, false, n, k, m, 1.0f, dy, n, x, k, 1.0f, dw, k);
  if (db) {
    // Column sums: each thread owns a slice of rows and adds its partial sums at the end.
    std::vector<float*> parts(static_cast<size_t>(maxThreads()));
#pragma omp parallel if (m * n > PAR_MIN)
    {
      int64_t r0, r1;
      threadRange(m, r0, r1);
      std::vector<float>& part = scratch(static_cast<size_t>(n));
      std::fill(part.begin(), part.begin() + n, 0.0f);
      float* pp = part.data();
      for (int64_t i = r0; i < r1; i++) {
        const float* row = dy + i * n;
#pragma omp simd
        for (int64_t j = 0; j < n; j++) pp[j] += row[j];
      }
      parts[threadId()] = pp;
      addPartsInThreadOrder(parts.data(), db, n);
    }
  }
}

void activationForward(int act, const float* x, float* y, int64_t n) {
  dispatchActivation(act, [&](auto a) { actForwardLoop<decltype(a)::value>(x, y, n); });
}

void activationBackward(int act, const float* x, const float* dy, float* dx, int64_t n) {
  dispatchActivation(act, [&](auto a) { actBackwardLoop<decltype(a)::value>(x, dy, dx, n); });
}

void layerNormForward(float* x, const float* residual, const float* gamma, const float* beta, float* y, float* mean,
                      float* rstd, int64_t rows, int64_t cols, double eps) {
#pragma omp parallel for schedule(static) if (rows * cols > PAR_MIN)
  for (int64_t r = 0; r < rows; r++) {
    float* xr = x + r * cols;
    float* yr = y + r * cols;
    if (residual) {
      const float* rr = residual + r * cols;
#pragma omp simd
      for (int64_t j = 0; j < cols; j++) xr[j] += rr[j];
    }
    double sum = 0.0;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < cols; j++) sum += xr[j];
    const double mu = sum / static_cast<double>(cols);
    double sq = 0.0;
#pragma omp simd reduction(+ : sq)
    for (int64_t j = 0; j < cols; j++) {
      const double d = xr[j] - mu;
      sq += d * d;
    }
    const double rs = 1.0 / std::sqrt(sq / static_cast<double>(cols) + eps);
    mean[r] = static_cast<float>(mu);
    rstd[r] = static_cast<float>(rs);
    const float muf = static_cast<float>(mu), rsf = static_cast<float>(rs);
#pragma omp simd
    for (int64_t j = 0; j < cols; j++) yr[j] = (xr[j] - muf) * rsf * gamma[j] + beta[j];
  }
}

void layerNormBackward(const float* dy, const float* x, const float* gamma, const float* mean, const float* rstd,
                       float* dx, float* dgamma, float* dbeta, int64_t rows, int64_t cols) {
  std::vector<float*> gammaParts(static_cast<size_t>(maxThreads())), betaParts(gammaParts.size());
#pragma omp parallel if (rows * cols > PAR_MIN)
  {
    int64_t r0, r1;
    threadRange(rows, r0, r1);
    std::vector<float>& part = scratch(static_cast<size_t>(2 * cols));
    float* dg = part.data();
    float* dbt = dg + cols;
    std::fill(dg, dg + 2 * cols, 0.0f);
    for (int64_t r = r0; r < r1; r++) {
      const float* dyr = dy + r * cols;
      const float* xr = x + r * cols;
      float* dxr = dx + r * cols;
      const float mu = mean[r], rs = rstd[r];
      float sumG = 0.0f, sumGX = 0.0f;
#pragma omp simd reduction(+ : sumG, sumGX)
      for (int64_t j = 0; j < cols; j++) {
        const float xhat = (xr[j] - mu) * rs;
        const float g = dyr[j] * gamma[j];
        sumG += g;
        sumGX += g * xhat;
        dg[j] += dyr[j] * xhat;
        dbt[j] += dyr[j];
      }
      const float meanG = sumG / static_cast<float>(cols), meanGX = sumGX / static_cast<float>(cols);
#pragma omp simd
      for (int64_t j = 0; j < cols; j++) {
        const float xhat = (xr[j] - mu) * rs;
        dxr[j] = rs * (dyr[j] * gamma[j] - meanG - xhat * meanGX);
      }
    }
    gammaParts[threadId()] = dg;
    betaParts[threadId()] = dbt;
    addPartsInThreadOrder(gammaParts.data(), dgamma, cols);
    addPartsInThreadOrder(betaParts.data(), dbeta, cols);
  }
}

// The seed example b of a dropout call draws from (dropoutExampleSeed in src/tensor/kernels.ts).
inline uint32_t dropoutExampleSeed(const Dropout& d, int64_t b) {
  return dropoutHash(d.seed, d.firstExample + static_cast<uint32_t>(b));
}

// out = the dropout mask of example b, head h applied to its [T, T] probabilities (out may be in): row (h, t) draws
// from dropoutHash(exampleSeed, h * 65536 + t), so the mask does not depend on the padded length T.
void attentionDropout(const Dropout& d, int64_t b, int64_t h, int64_t T, uint32_t thr, double keepScale,
                      const float* in, float* out) {
  const uint32_t ex = dropoutExampleSeed(d, b);
  for (int64_t t = 0; t < T; t++) {
    const uint32_t row = dropoutHash(ex, static_cast<uint32_t>(h * 65536 + t));
    const float* x = in + t * T;
    float* y = out + t * T;
    for (int64_t s = 0; s < T; s++) {
      const bool keep = dropoutHash(row, static_cast<uint32_t>(s)) >= thr;
      y[s] = keep ? static_cast<float>(static_cast<double>(x[s]) * keepScale) : 0.0f;
    }
  }
}

void attentionForward(const float* q, const float* k, const float* v, int64_t ld, const float* maskBias, float* probs,
                      float* ctx, int64_t ldCtx, int64_t B, int64_t T, int64_t H, int64_t D, float scale,
                      const Dropout& dropout) {
  const uint32_t thr = dropout.on ? dropoutThreshold(dropout.p) : 0;
  const double keepScale = dropout.on ? 1.0 / (1.0 - dropout.p) : 1.0;
#pragma omp parallel for schedule(dynamic, 1) if (B * H > 1)
  for (int64_t bh = 0; bh < B * H; bh++) {
    const int64_t b = bh / H, h = bh % H;
    const float* qb = q + b * T * ld + h * D;
    const float* kb = k + b * T * ld + h * D;
    const float* vb = v + b * T * ld + h * D;
    // Scratch per thread: the probabilities when the caller keeps none (they stay in cache), and their dropout.
    float* work = scratch(static_cast<size_t>(2 * T * T)).data();
    float* P = probs ? probs + bh * T * T : work;
    sgemmSerial(false, true, T, T, D, scale, qb, ld, kb, ld, 0.0f, P, T);
    const float* mb = maskBias + b * T;
    for (int64_t t = 0; t < T; t++) {
      float* row = P + t * T;
      float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
      for (int64_t s = 0; s < T; s++) {
        const float v = row[s] + mb[s];
        row[s] = v;
        mx = v > mx ? v : mx;
      }
      float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
      for (int64_t s = 0; s < T; s++) {
        const float e = fastExp(row[s] - mx);
        row[s] = e;
        sum += e;
      }
      const float inv = 1.0f / sum;
#pragma omp simd
      for (int64_t s = 0; s < T; s++) row[s] *= inv;
    }
    const float* Pused = P;
    if (dropout.on) {
      float* Pd = work + T * T;
      attentionDropout(dropout, b, h, T, thr, keepScale, P, Pd);
      Pused = Pd;
    }
    sgemmSerial(false, false, T, D, T, 1.0f, Pused, T, vb, ld, 0.0f, ctx + b * T * ldCtx + h * D, ldCtx);
  }
}

void attentionBackward(const float* dctx, int64_t ldCtx, const float* q, const float* k, const float* v, int64_t ld,
                       const float* probs, float* dq, float* dk, float* dv, int64_t B, int64_t T, int64_t H,
                       int64_t D, float scale, const Dropout& dropout) {
  const uint32_t thr = dropout.on ? dropoutThreshold(dropout.p) : 0;
  const double keepScale = dropout.on ? 1.0 / (1.0 - dropout.p) : 1.0;
#pragma omp parallel for schedule(dynamic, 1) if (B * H > 1)
  for (int64_t bh = 0; bh < B * H; bh++) {
    const int64_t b = bh / H, h = bh % H;
    const int64_t off = b * T * ld + h * D;
    const float* dcb = dctx + b * T * ldCtx + h * D;
    const float* P = probs + bh * T * T;
    std::vector<float>& buf = scratch(static_cast<size_t>(2 * T * T));
    float* dP = buf.data();
    float* Pd = dP + T * T;
    const float* Pused = P;
    if (dropout.on) {
      attentionDropout(dropout, b, h, T, thr, keepScale, P, Pd);
      Pused = Pd;
    }
    // dV = dropout(P)^T dctx ; d(dropout(P)) = dctx V^T
    sgemmSerial(true, false, T, D, T, 1.0f, Pused, T, dcb, ldCtx, 0.0f, dv + off, ld);
    sgemmSerial(false, true, T, T, D, 1.0f, dcb, ldCtx, v + off, ld, 0.0f, dP, T);
    if (dropout.on) attentionDropout(dropout, b, h, T, thr, keepScale, dP, dP);
    // Softmax backward in place: dS = P * (dP - sum_s dP * P).
    for (int64_t t = 0; t < T; t++) {
      const float* pr = P + t * T;
      float* dr = dP + t * T;
      float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
      for (int64_t s = 0; s < T; s++) dot += dr[s] * pr[s];
#pragma omp simd
      for (int64_t s = 0; s < T; s++) dr[s] = pr[s] * (dr[s] - dot);
    }
    sgemmSerial(false, false, T, D, T, scale, dP, T, k + off, ld, 0.0f, dq + off, ld);
    sgemmSerial(true, false, T, D, T, scale, dP, T, q + off, ld, 0.0f, dk + off, ld);
  }
}

void embeddingForward(const int32_t* ids, const float* table, float* out, int64_t n, int64_t dim, bool accumulate) {
#pragma omp parallel for schedule(static) if (n * dim > PAR_MIN)
  for (int64_t i = 0; i < n; i++) {
    const float* src = table + static_cast<int64_t>(ids[i]) * dim;
    float* dst = out + i * dim;
    if (accumulate) {
#pragma omp simd
      for (int64_t j = 0; j < dim; j++) dst[j] += src[j];
    } else {
      std::memcpy(dst, src, sizeof(float) * dim);
    }
  }
}

void embeddingBackward(const int32_t* ids, const float* dout, float* dtable, int64_t n, int64_t dim) {
  // Threads own disjoint column slices, so repeated ids never race and the summation order is the js order.
#pragma omp parallel if (n * dim > PAR_MIN)
  {
    int64_t c0, c1;
    threadRange(dim, c0, c1);
    for (int64_t i = 0; i < n; i++) {
      float* dst = dtable + static_cast<int64_t>(ids[i]) * dim;
      const float* src = dout + i * dim;
#pragma omp simd
      for (int64_t j = c0; j < c1; j++) dst[j] += src[j];
    }
  }
}

void add(float* dst, const float* src, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
  for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

void dropoutForward(const float* x, float* y, int64_t n, int64_t exampleSize, const Dropout& dropout) {
  const uint32_t thr = dropoutThreshold(dropout.p);
  const double keepScale = 1.0 / (1.0 - dropout.p);
  const int64_t examples = (n + exampleSize - 1) / exampleSize;
  // Threads own contiguous element ranges; each walks the examples its range crosses.
#pragma omp parallel if (n > PAR_MIN)
  {
    int64_t i0, i1;
    threadRange(n, i0, i1);
    for (int64_t b = i0 / exampleSize; b < examples && b * exampleSize < i1; b++) {
      const uint32_t seed = dropoutExampleSeed(dropout, b);
      const int64_t start = b * exampleSize;
      const int64_t lo = i0 > start ? i0 : start;
      const int64_t end = start + exampleSize < i1 ? start + exampleSize : i1;
#pragma omp simd
      for (int64_t i = lo; i < end; i++) {
        const bool keep = dropoutHash(seed, static_cast<uint32_t>(i - start)) >= thr;
        y[i] = keep ? static_cast<float>(static_cast<double>(x[i]) * keepScale) : 0.0f;
      }
    }
  }
}

void softmaxCrossEntropy(const float* logits, const int32_t* labels, int64_t n, int64_t c, int32_t ignoreIndex,
                         float* dlogits, double gradScale, double* lossSum, int64_t* count) {
  // Per-thread partial sums added in thread order (not an OpenMP reduction, whose order is unspecified).
  std::vector<double> lossParts(static_cast<size_t>(maxThreads()), 0.0);
  std::vector<int64_t> countParts(lossParts.size(), 0);
#pragma omp parallel if (n * c > PAR_MIN)
  {
  double loss = 0.0;
  int64_t cnt = 0;
  int64_t i0, i1;
  threadRange(n, i0, i1);
  for (int64_t i = i0; i < i1; i++) {
    const float* row = logits + i * c;
    float* drow = dlogits ? dlogits + i * c : nullptr;
    const int32_t label = labels[i];
    if (label == ignoreIndex) {
      if (drow) std::memset(drow, 0, sizeof(float) * c);
      continue;
    }
    double mx = -INFINITY;
    for (int64_t j = 0; j < c; j++) mx = std::max(mx, static_cast<double>(row[j]));
    double sum = 0.0;
    for (int64_t j = 0; j < c; j++) sum += std::exp(static_cast<double>(row[j]) - mx);
    const double lse = mx + std::log(sum);
    loss += lse - static_cast<double>(row[label]);
    cnt += 1;
    if (drow) {
      for (int64_t j = 0; j < c; j++) drow[j] = static_cast<float>(std::exp(static_cast<double>(row[j]) - lse) * gradScale);
      drow[label] = static_cast<float>(static_cast<double>(drow[label]) - gradScale);
    }
  }
  lossParts[threadId()] = loss;
  countParts[threadId()] = cnt;
  }
  double loss = 0.0;
  int64_t cnt = 0;
  for (size_t t = 0; t < lossParts.size(); t++) {
    loss += lossParts[t];
    cnt += countParts[t];
  }
  *lossSum = loss;
  *count = cnt;
}

void adamwStep(float* params, const float* grads, float* m, float* v, int64_t n, double lr, double beta1,
               double beta2, double eps, double weightDecay, double bc1, double bc2) {
  // Same operation order as the js kernel (double arithmetic, one float32 rounding per store).
  const double decay = 1.0 - lr * weightDecay;
  const double stepSize = lr / bc1;
  const double bc2Sqrt = std::sqrt(bc2);
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
  for (int64_t i = 0; i < n; i++) {
    const double g = grads[i];
    const double mi = beta1 * m[i] + (1.0 - beta1) * g;
    const double vi = beta2 * v[i] + (1.0 - beta2) * g * g;
    m[i] = static_cast<float>(mi);
    v[i] = static_cast<float>(vi);
    params[i] = static_cast<float>(params[i] * decay - stepSize * mi / (std::sqrt(vi) / bc2Sqrt + eps));
  }
}

double sumSquares(const float* x, int64_t n) {
  // Per-thread partial sums added in thread order: the same bits on every run (clipping must be reproducible).
  std::vector<double> parts(static_cast<size_t>(maxThreads()), 0.0);
#pragma omp parallel if (n > PAR_MIN)
  {
    int64_t i0, i1;
    threadRange(n, i0, i1);
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = i0; i < i1; i++) s += static_cast<double>(x[i]) * x[i];
    parts[threadId()] = s;
  }
  double s = 0.0;
  for (double p : parts) s += p;
  return s;
}

void scale(float* x, int64_t n, double s) {
  // Double product, one rounding: what the js kernel's Float32Array store does.
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
  for (int64_t i = 0; i < n; i++) x[i] = static_cast<float>(static_cast<double>(x[i]) * s);
}

}  // namespace bert
