// emscripten library: the functions bert_kernels*.wasm imports from the JavaScript loader (src/native/wasm-kernels.ts
// supplies them; no emscripten glue is ever written). Declared here so that ERROR_ON_UNDEFINED_SYMBOLS stays on.
mergeInto(LibraryManager.library, {
  // gemm_relaxed.c's micro-kernel, from bert_gemm_relaxed*.wasm (see gemm.cc).
  bk_micro_relaxed: function () {
    throw new Error('bk_micro_relaxed: the relaxed-SIMD module is not loaded');
  },
});
