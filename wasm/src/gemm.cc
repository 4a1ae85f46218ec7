// SIMD128 GEMM of the bert-ts WebAssembly backend: the sgemm / sgemmSerial that native/src/kernels.cc calls, so the
// fused kernels are the native ones compiled for wasm32 over this GEMM.
//
// In the threaded build sgemm splits C into row (or column) ranges run by the pool (pool.h); each element is still
// computed by one thread with the same code and k blocking, so the result is bitwise the single-threaded one.
//
// Goto-style blocking: B is packed once per (KC x NC) block into panels of NR = 8 columns (two v128 per k step), A into
// panels of MR = 4 rows; a 4x8 register-blocked micro-kernel keeps its 8 accumulators in v128 registers (V8 on
// x64 has 16: 8 accumulators + 2 B vectors + 1 broadcast fit). Transposes are absorbed by the packing.
//
// Where the engine validates relaxed SIMD the loader supplies a second micro-kernel, bk_micro_relaxed
// (wasm/src/gemm_relaxed.c: f32x4.relaxed_madd, one FMA per lane on x86 / ARM64), imported from a small module of
// its own that shares this memory, and turns it on with bk_use_relaxed_simd(1). With FMA a 6x8 tile fits V8's 16
// registers (12 accumulators + 2 B vectors + 1 broadcast; no product temporaries): A is then packed in panels of
// MR_RELAXED = 6 rows (B's panels are the same, so weights packed once serve both kernels).
#include <wasm_simd128.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "../../native/src/bert_native.h"
#include "pool.h"

// gemm_relaxed.c's micro-kernel: C[MR_RELAXED, NR] (a whole tile) += alpha * Apanel . Bpanel. Declared to emscripten by
// wasm/src/imports.js; without the relaxed module the loader supplies a function that throws (never called: the flag
// below stays 0).
extern "C" __attribute__((import_module("env"), import_name("bk_micro_relaxed"))) void bkMicroRelaxed(
    int32_t kc, const float* ap, const float* bp, float alpha, float* c, int32_t ldc);

namespace {
// Set once by the loader before any GEMM runs (every thread of the threaded module then reads it: it lives in the
// shared memory).
int32_t relaxedSimd = 0;
}  // namespace

extern "C" __attribute__((used, visibility("default"))) void bk_use_relaxed_simd(int32_t on) { relaxedSimd = on; }
extern "C" __attribute__((used, visibility("default"))) int32_t bk_relaxed_simd() { return relaxedSimd; }

namespace bert {

namespace {

constexpr int64_t MR = 4, NR = 8;
constexpr int64_t KC = 256, MC = 128, NC = 2048;
constexpr int64_t MR_RELAXED = 6, MC_RELAXED = 126;  // the relaxed kernel's tile rows; MC rounded down to a multiple

// The A panels' rows and the row block of the kernel in use.
int64_t tileRows() { return relaxedSimd ? MR_RELAXED : MR; }
int64_t rowBlock() { return relaxedSimd ? MC_RELAXED : MC; }
static_assert(MR == 4, "packA moves one v128 (4 rows) per k step; a SIMD128 6x8 tile spilled on V8 (x64): 2.5x slower");

// B block [kc, nc] of op(B) starting at (p0, j0) -> panels of NR columns, each [kc][NR], zero-padded.
void packB(bool transB, const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc, float* out) {
  for (int64_t j = 0; j < nc; j += NR) {
    const int64_t nr = std::min(NR, nc - j);
    float* panel = out + j * kc;
    if (!transB && nr == NR) {
      for (int64_t p = 0; p < kc; p++) {
        const float* src = b + (p0 + p) * ldb + j0 + j;
        wasm_v128_store(panel + p * NR, wasm_v128_load(src));
        wasm_v128_store(panel + p * NR + 4, wasm_v128_load(src + 4));
      }
    } else {
      for (int64_t p = 0; p < kc; p++) {
        float* dst = panel + p * NR;
        for (int64_t c = 0; c < NR; c++) {
          if (c >= nr) dst[c] = 0.0f;
          else dst[c] = transB ? b[(j0 + j + c) * ldb + p0 + p] : b[(p0 + p) * ldb + j0 + j + c];
        }
      }
    }
  }
}

// A block [mc, kc] of op(A) starting at (i0, p0) -> panels of rows (MR, or MR_RELAXED), each [kc][rows], zero-padded.
void packA(bool transA, const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* out,
           int64_t rows) {
  for (int64_t i = 0; i < mc; i += rows) {
    const int64_t mr = std::min(rows, mc - i);
    float* panel = out + i * kc;
    if (transA && mr == MR && rows == MR) {
      for (int64_t p = 0; p < kc; p++) wasm_v128_store(panel + p * MR, wasm_v128_load(a + (p0 + p) * lda + i0 + i));
    } else {
      for (int64_t p = 0; p < kc; p++) {
        float* dst = panel + p * rows;
        for (int64_t r = 0; r < rows; r++) {
          if (r >= mr) dst[r] = 0.0f;
          else dst[r] = transA ? a[(p0 + p) * lda + i0 + i + r] : a[(i0 + i + r) * lda + p0 + p];
        }
      }
    }
  }
}

// C[mr, nr] += alpha * Apanel[kc][MR] . Bpanel[kc][NR] (mr <= MR, nr <= NR); the accumulators are unrolled into
// 2 * MR v128 locals.
void microKernel(int64_t kc, const float* ap, const float* bp, float alpha, float* c, int64_t ldc, int64_t mr,
                 int64_t nr) {
  if (relaxedSimd) {
    if (mr == MR_RELAXED && nr == NR) return bkMicroRelaxed(kc, ap, bp, alpha, c, ldc);
    // An edge tile: the whole tile into a zeroed scratch tile, its valid part added to C.
    alignas(16) float tile[MR_RELAXED * NR] = {};
    bkMicroRelaxed(kc, ap, bp, alpha, tile, NR);
    for (int64_t r = 0; r < mr; r++)
      for (int64_t j = 0; j < nr; j++) c[r * ldc + j] += tile[r * NR + j];
    return;
  }
  v128_t acc[MR][2];
#pragma clang loop unroll(full)
  for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = wasm_f32x4_splat(0.0f);
  for (int64_t p = 0; p < kc; p++) {
    const v128_t b0 = wasm_v128_load(bp), b1 = wasm_v128_load(bp + 4);
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
      const v128_t a = wasm_v128_load32_splat(ap + r);
      acc[r][0] = wasm_f32x4_add(acc[r][0], wasm_f32x4_mul(a, b0));
      acc[r][1] = wasm_f32x4_add(acc[r][1], wasm_f32x4_mul(a, b1));
    }
    ap += MR;
    bp += NR;
  }
  const v128_t al = wasm_f32x4_splat(alpha);
  if (mr == MR && nr == NR) {
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
      float* cr = c + r * ldc;
      wasm_v128_store(cr, wasm_f32x4_add(wasm_v128_load(cr), wasm_f32x4_mul(al, acc[r][0])));
      wasm_v128_store(cr + 4, wasm_f32x4_add(wasm_v128_load(cr + 4), wasm_f32x4_mul(al, acc[r][1])));
    }
    return;
  }
  alignas(16) float tile[MR * NR];
#pragma clang loop unroll(full)
  for (int r = 0; r < MR; r++) {
    wasm_v128_store(tile + r * NR, wasm_f32x4_mul(al, acc[r][0]));
    wasm_v128_store(tile + r * NR + 4, wasm_f32x4_mul(al, acc[r][1]));
  }
  for (int64_t r = 0; r < mr; r++)
    for (int64_t j = 0; j < nr; j++) c[r * ldc + j] += tile[r * NR + j];
}

// Per thread: the pool's workers pack their own blocks.
std::vector<float>& packBuffer(int which, size_t n) {
  thread_local std::vector<float> bufs[2];
  if (bufs[which].size() < n) bufs[which].resize(n);
  return bufs[which];
}

}  // namespace

namespace {

int64_t roundUp(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

// C += alpha * op(A) @ op(B) over the blocks; op(B) comes packed whole (packWeights' layout) or is packed per block.
// With prepacked B, only C's columns [jBegin, jEnd) are computed (jBegin a multiple of NR): a thread's share.
void gemmBlocks(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                const float* b, int64_t ldb, const float* prepacked, float* c, int64_t ldc, int64_t jBegin = 0,
                int64_t jEnd = INT64_MAX) {
  float* bp = prepacked ? nullptr : packBuffer(0, static_cast<size_t>(KC * std::min(NC, roundUp(n, NR)))).data();
  const int64_t rows = tileRows(), mcMax = rowBlock();
  float* ap = packBuffer(1, static_cast<size_t>(KC * std::min(mcMax, roundUp(m, rows)))).data();
  for (int64_t j0 = 0; j0 < n; j0 += NC) {
    const int64_t nc = std::min(NC, n - j0);
    const int64_t jLo = std::max(j0, jBegin) - j0, jHi = std::min(j0 + nc, jEnd) - j0;  // this block's share
    for (int64_t p0 = 0; p0 < k; p0 += KC) {
      const int64_t kc = std::min(KC, k - p0);
      const float* panels = bp;
      if (prepacked) {
        panels = prepacked;
        prepacked += kc * roundUp(nc, NR);
      } else {
        packB(transB, b, ldb, p0, kc, j0, nc, bp);
      }
      if (jLo >= jHi) continue;
      for (int64_t i0 = 0; i0 < m; i0 += mcMax) {
        const int64_t mc = std::min(mcMax, m - i0);
        packA(transA, a, lda, i0, mc, p0, kc, ap, rows);
        for (int64_t j = jLo; j < jHi; j += NR) {
          for (int64_t i = 0; i < mc; i += rows) {
            microKernel(kc, ap + i * kc, panels + j * kc, alpha, c + (i0 + i) * ldc + j0 + j, ldc,
                        std::min(rows, mc - i), std::min(NR, jHi - j));
          }
        }
      }
    }
  }
}

// Below this many multiply-adds a GEMM stays on the calling thread (waking the workers costs more than it saves).
constexpr int64_t PAR_MIN_MACS = int64_t{1} << 18;

// gemmBlocks over ranges of C's rows (of its columns when C is wide: each thread then reads only its share of B, the
// larger operand) on the pool's threads; ranges of at most 256 rows or columns, so that a thread slowed by another
// process leaves the rest of the work to the others.
void gemmParallel(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                  int64_t lda, const float* b, int64_t ldb, const float* prepacked, float* c, int64_t ldc) {
  const int threads = poolThreads();
  const bool byRows = m >= n;
  const int64_t dim = byRows ? m : n, unit = byRows ? tileRows() : NR;
  int64_t parts = threads <= 1 || m * n * k < PAR_MIN_MACS ? 1 : std::max<int64_t>(threads, dim / 256);
  const int64_t chunk = roundUp((dim + parts - 1) / parts, unit);
  parts = (dim + chunk - 1) / chunk;
  if (parts <= 1) return gemmBlocks(transA, transB, m, n, k, alpha, a, lda, b, ldb, prepacked, c, ldc);
  parallelFor(parts, [&](int64_t t) {
    const int64_t s = t * chunk, len = std::min(dim, s + chunk) - s;
    if (byRows)
      gemmBlocks(transA, transB, len, n, k, alpha, transA ? a + s : a + s * lda, lda, b, ldb, prepacked, c + s * ldc,
                 ldc);
    else if (prepacked)  // the packed panels cannot be offset: the share is a column range of the whole product
      gemmBlocks(transA, transB, m, n, k, alpha, a, lda, b, ldb, prepacked, c, ldc, s, s + len);
    else
      gemmBlocks(transA, transB, m, len, k, alpha, a, lda, transB ? b + s * ldb : b + s, ldb, nullptr, c + s, ldc);
  });
}

// BLAS semantics: beta = 0 overwrites C (NaN in C never leaks into the result).
void scaleC(int64_t m, int64_t n, float beta, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; i++) {
    float* ci = c + i * ldc;
    if (beta == 0.0f) std::memset(ci, 0, sizeof(float) * n);
    else if (beta != 1.0f)
      for (int64_t j = 0; j < n; j++) ci[j] *= beta;
  }
}

}  // namespace

int64_t packedWeightsSize(int64_t n, int64_t k) {
  int64_t size = 0;
  for (int64_t j0 = 0; j0 < n; j0 += NC) size += k * roundUp(std::min(NC, n - j0), NR);
  return size;
}

void packWeights(const float* w, int64_t n, int64_t k, float* out) {
  for (int64_t j0 = 0; j0 < n; j0 += NC) {
    const int64_t nc = std::min(NC, n - j0);
    for (int64_t p0 = 0; p0 < k; p0 += KC) {
      const int64_t kc = std::min(KC, k - p0);
      packB(true, w, k, p0, kc, j0, nc, out);
      out += kc * roundUp(nc, NR);
    }
  }
}

void packedLinear(const float* x, const float* packed, float* y, int64_t m, int64_t n, int64_t k) {
  scaleC(m, n, 0.0f, y, n);
  if (m > 0 && n > 0 && k > 0) gemmParallel(false, true, m, n, k, 1.0f, x, k, nullptr, k, packed, y, n);
}

void sgemmBuiltin(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                  const float* b, int64_t ldb, float beta, float* c, int64_t ldc, bool parallel) {
  scaleC(m, n, beta, c, ldc);
  if (alpha == 0.0f || k == 0 || m == 0 || n == 0) return;
  if (parallel) gemmParallel(transA, transB, m, n, k, alpha, a, lda, b, ldb, nullptr, c, ldc);
  else gemmBlocks(transA, transB, m, n, k, alpha, a, lda, b, ldb, nullptr, c, ldc);
}

void sgemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  sgemmBuiltin(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, true);
}

void sgemmSerial(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  sgemmBuiltin(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, false);
}

}  // namespace bert
