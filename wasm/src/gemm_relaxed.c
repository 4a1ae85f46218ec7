// The relaxed-SIMD micro-kernel of the bert-ts WebAssembly GEMM (wasm/src/gemm.cc): a 6x8 register tile over the
// same packed B panels as the SIMD128 4x8 kernel (A packed in 6-row panels by gemm.cc when this kernel is on), with
// f32x4.relaxed_madd (one FMA on x86 with FMA3 and on ARM64) instead of f32x4.mul + f32x4.add. Built alone by
// clang-19 / wasm-ld-19 (scripts/build-wasm.mjs: emscripten 3.1's clang has no relaxed-SIMD builtins) into a module
// that imports the main module's memory and exports this one function; the main module imports it and calls it
// where the engine validates relaxed SIMD (src/native/wasm-kernels.ts).
//
// The module must not touch memory it does not own: no data, no stack (everything lives in v128 locals), no globals;
// the build checks that it has no data section and imports nothing but the memory.
//
// The tile, measured (panels in cache, Node 20 on AMD EPYC with FMA3, GFLOP/s one thread, two runs): SIMD128 4x8
// 42; relaxed 4x8 49-53, 5x8 53-55, 6x8 56, 8x8 34, 4x12 27, 3x16 27. 6x8 needs 12 accumulators + 2 B vectors + 1
// broadcast = 15 of V8's 16 x64 vector registers, which FMA (no product temporaries) makes fit; 4x12 and wider spill.
#include <stdint.h>
#include <wasm_simd128.h>

#define MR 6  // gemm.cc's MR_RELAXED
#define NR 8

// C[MR, NR] (row stride ldc floats) += alpha * Apanel[kc][MR] . Bpanel[kc][NR]: a whole tile; the caller handles
// edge tiles through a scratch tile of its own.
__attribute__((export_name("bk_micro_relaxed"))) void bk_micro_relaxed(int32_t kc, const float* ap, const float* bp,
                                                                         float alpha, float* c, int32_t ldc) {
  v128_t acc[MR][2];
#pragma clang loop unroll(full)
  for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = wasm_f32x4_splat(0.0f);
  for (int32_t p = 0; p < kc; p++) {
    const v128_t b0 = wasm_v128_load(bp), b1 = wasm_v128_load(bp + 4);
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
      const v128_t a = wasm_v128_load32_splat(ap + r);
      acc[r][0] = wasm_f32x4_relaxed_madd(a, b0, acc[r][0]);
      acc[r][1] = wasm_f32x4_relaxed_madd(a, b1, acc[r][1]);
    }
    ap += MR;
    bp += NR;
  }
  const v128_t al = wasm_f32x4_splat(alpha);
#pragma clang loop unroll(full)
  for (int r = 0; r < MR; r++) {
    float* cr = c + r * ldc;
    wasm_v128_store(cr, wasm_f32x4_relaxed_madd(al, acc[r][0], wasm_v128_load(cr)));
    wasm_v128_store(cr + 4, wasm_f32x4_relaxed_madd(al, acc[r][1], wasm_v128_load(cr + 4)));
  }
}
