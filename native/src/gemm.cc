// GEMM for the bert-ts native kernels: oneDNN's sgemm, CBLAS, or a portable blocked kernel, all row-major.
#include "bert_native.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef BERT_USE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif
#ifdef BERT_USE_CBLAS
#ifdef BERT_USE_ACCELERATE
#include <Accelerate/Accelerate.h>
#else
#include <cblas.h>
#endif
#endif

namespace bert {

namespace {

// Blocking of the portable kernel: a KC x NC panel of op(B) stays in L2, rows of op(A) stream through it.
constexpr int64_t KC = 256;
constexpr int64_t NC = 512;
constexpr int64_t MR = 4;

inline float elemA(bool t, const float* a, int64_t lda, int64_t i, int64_t p) { return t ? a[p * lda + i] : a[i * lda + p]; }
inline float elemB(bool t, const float* b, int64_t ldb, int64_t p, int64_t j) { return t ? b[j * ldb + p] : b[p * ldb + j]; }

void scaleC(float beta, float* c, int64_t ldc, int64_t m, int64_t n, bool parallel) {
  if (beta == 1.0f) return;
#pragma omp parallel for schedule(static) if (parallel && m * n > 65536)
  for (int64_t i = 0; i < m; i++) {
    float* row = c + i * ldc;
    if (beta == 0.0f) std::memset(row, 0, sizeof(float) * n);
    else for (int64_t j = 0; j < n; j++) row[j] *= beta;
  }
}

}  // namespace

void sgemmBuiltin(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                  const float* b, int64_t ldb, float beta, float* c, int64_t ldc, bool parallel) {
  scaleC(beta, c, ldc, m, n, parallel);
  if (k == 0 || alpha == 0.0f || m == 0 || n == 0) return;
  for (int64_t pc = 0; pc < k; pc += KC) {
    const int64_t kb = std::min(KC, k - pc);
    for (int64_t jc = 0; jc < n; jc += NC) {
      const int64_t nb = std::min(NC, n - jc);
      // Pack alpha * op(B)[pc:pc+kb, jc:jc+nb] contiguously so the inner loop is unit-stride and vectorises.
      thread_local std::vector<float> packB;
      std::vector<float>& bp = packB;
      bp.resize(static_cast<size_t>(kb * nb));
      for (int64_t p = 0; p < kb; p++)
        for (int64_t j = 0; j < nb; j++) bp[p * nb + j] = alpha * elemB(transB, b, ldb, pc + p, jc + j);
      const float* B = bp.data();
      const int64_t mBlocks = (m + MR - 1) / MR;
#pragma omp parallel for schedule(static) if (parallel && m * nb * kb > 262144)
      for (int64_t ib = 0; ib < mBlocks; ib++) {
        const int64_t i0 = ib * MR;
        const int64_t rows = std::min(MR, m - i0);
        float acc[MR][NC];
        for (int64_t r = 0; r < rows; r++) std::memcpy(acc[r], c + (i0 + r) * ldc + jc, sizeof(float) * nb);
        if (rows == MR) {
          for (int64_t p = 0; p < kb; p++) {
            const float a0 = elemA(transA, a, lda, i0, pc + p), a1 = elemA(transA, a, lda, i0 + 1, pc + p);
            const float a2 = elemA(transA, a, lda, i0 + 2, pc + p), a3 = elemA(transA, a, lda, i0 + 3, pc + p);
            const float* brow = B + p * nb;
            for (int64_t j = 0; j < nb; j++) {
              const float bv = brow[j];
              acc[0][j] += a0 * bv;
              acc[1][j] += a1 * bv;
              acc[2][j] += a2 * bv;
              acc[3][j] += a3 * bv;
            }
          }
        } else {
          for (int64_t r = 0; r < rows; r++)
            for (int64_t p = 0; p < kb; p++) {
              const float av = elemA(transA, a, lda, i0 + r, pc + p);
              const float* brow = B + p * nb;
              for (int64_t j = 0; j < nb; j++) acc[r][j] += av * brow[j];
            }
        }
        for (int64_t r = 0; r < rows; r++) std::memcpy(c + (i0 + r) * ldc + jc, acc[r], sizeof(float) * nb);
      }
    }
  }
}

void sgemmReference(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                    const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
#if defined(BERT_USE_DNNL)
  if (k == 0) { scaleC(beta, c, ldc, m, n, true); return; }
  dnnl_sgemm(transA ? 'T' : 'N', transB ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#elif defined(BERT_USE_CBLAS)
  if (k == 0) { scaleC(beta, c, ldc, m, n, true); return; }
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, (int)m, (int)n,
              (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
#else
  sgemmBuiltin(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, true);
#endif
}

void sgemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  sgemmReference(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void sgemmSerial(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
#if defined(BERT_USE_DNNL)
  // Called inside an OpenMP region, oneDNN's OpenMP runtime sees omp_in_parallel() and runs on the calling thread.
  sgemmReference(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#else
  // CBLAS libraries may spawn their own threads from inside ours; the portable kernel stays on this thread.
  sgemmBuiltin(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, false);
#endif
}

std::string cpuIsa() {
#if defined(BERT_USE_DNNL)
  switch (static_cast<int>(dnnl_get_effective_cpu_isa())) {
    case 0x1: return "sse41";
    case 0x3: return "avx";
    case 0x7: return "avx2";
    case 0x407: return "avx2_vnni";
    case 0x27: return "avx512_core";
    case 0x67: return "avx512_core_vnni";
    case 0xe7: return "avx512_core_bf16";
    default: return "isa 0x" + [] (int v) { char b[16]; snprintf(b, sizeof b, "%x", v); return std::string(b); }(static_cast<int>(dnnl_get_effective_cpu_isa()));
  }
#else
  return "unknown";
#endif
}

std::string backendName() {
#if defined(BERT_USE_DNNL)
  const dnnl_version_t* v = dnnl_version();
  return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
#elif defined(BERT_USE_ACCELERATE)
  return "Accelerate";
#elif defined(BERT_USE_CBLAS)
  return "OpenBLAS";
#else
  return "builtin";
#endif
}

int numThreads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

void setNumThreads(int n) {
#ifdef _OPENMP
  if (n > 0) omp_set_num_threads(n);
#else
  (void)n;
#endif
}

}  // namespace bert
