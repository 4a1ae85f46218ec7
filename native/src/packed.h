// Packed linear layers: weights reordered once into the GEMM kernel's own layout, in fp32, int8 or bf16.
#pragma once
#include <cstdint>
#include <string>

namespace bert {

enum PackKind { PACK_F32 = 0, PACK_Q8 = 1, PACK_BF16 = 2 };

struct PackedLinear;

// Empty when this build and this CPU run `kind` packed, else the reason (what is missing).
std::string packedUnsupportedReason(int kind);
// Largest |int8 weight| the int8 GEMM adds up exactly on this CPU: 127 with VNNI (AVX512-VNNI, AMX), else 63 —
// without VNNI the kernels add pairs of u8*s8 products in int16 (vpmaddubsw), which saturates beyond 2 * 255 * 63.
int q8WeightMax();
// w is float [n,k] (PACK_F32), int8 [n,k] with per-row scales[n] (PACK_Q8) or bf16 bits [n,k] (PACK_BF16), all
// PyTorch-shaped; the packed copy owns its memory (w may be freed afterwards). Throws std::runtime_error.
PackedLinear* packLinear(int kind, const void* w, const float* scales, int64_t n, int64_t k);
void freePackedLinear(PackedLinear* p);
int64_t packedLinearBytes(const PackedLinear* p);
int packedLinearKind(const PackedLinear* p);
int64_t packedLinearN(const PackedLinear* p);
int64_t packedLinearK(const PackedLinear* p);
// y[m,n] = act(x[m,k] @ W^T + bias) with W the packed weight; q8 quantizes each row of x to int8 on the fly
// (symmetric, scale max|x_i| / 127) and dequantizes in the bias pass. act < 0: none; bias may be null.
void packedLinearForward(PackedLinear* p, const float* x, const float* bias, float* y, int64_t m, int act);

// The two conversions of the packed paths (exposed for the tests against src/tensor/quant-kernels.ts):
// per-row symmetric int8 with scales[i] = max|x_i| / 127 (0 for an all-zero row), round half to even.
void quantizeRowsS8(const float* x, int8_t* q, float* scales, int64_t m, int64_t k);
// float -> bfloat16 bits, round half to even (NaN stays NaN).
void floatToBf16(const float* x, uint16_t* y, int64_t n);

}  // namespace bert
