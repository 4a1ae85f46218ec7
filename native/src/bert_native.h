// Declarations shared by the bert-ts native kernels: the GEMM backend and the fused kernels (see kernels.cc).
#pragma once
#include <cstdint>
#include <cstddef>
#include <string>

namespace bert {

// Row-major C[m,n] = alpha * op(A) @ op(B) + beta * C through the library picked at build time.
void sgemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
// Same contract, single-threaded, for calls made from inside our own parallel loops (attention per head).
void sgemmSerial(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
// The library's own sgemm with no bert-ts code around it (the benchmark's reference for the machine's limit).
void sgemmReference(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                    const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
// The portable blocked kernel used when no library is present (also exposed for testing).
void sgemmBuiltin(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                  const float* b, int64_t ldb, float beta, float* c, int64_t ldc, bool parallel);

std::string backendName();
// The instruction set the library dispatches to at run time (oneDNN only; "unknown" otherwise).
std::string cpuIsa();
int numThreads();
void setNumThreads(int n);

// Counter-based dropout hash, bit-identical to dropoutHash in src/tensor/kernels.ts.
static inline uint32_t dropoutHash(uint32_t seed, uint32_t index) {
  uint32_t h = index ^ (seed * 0x9e3779b1u);
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

}  // namespace bert
