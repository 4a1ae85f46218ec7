# node-gyp build of the bert-ts native kernels; scripts/build-native.mjs picks the GEMM library through
# BERT_NATIVE_BACKEND (dnnl | openblas | accelerate | builtin) after probing what this machine has.
{
  'variables': {
    'bert_backend%': '<!(node -p "process.env.BERT_NATIVE_BACKEND || \'builtin\'")',
    'bert_simd%': '<!(node -p "process.env.BERT_NATIVE_SIMD || \'none\'")',
    'bert_mpi%': '<!(node -p "process.env.BERT_NATIVE_MPI === \'1\' ? \'on\' : \'off\'")',
  },
  'targets': [
    {
      'target_name': 'bert_native',
      'sources': ['src/addon.cc', 'src/gemm.cc', 'src/kernels.cc', 'src/packed.cc', 'src/mpi.cc'],
      'cflags!': ['-O2', '-O0', '-fno-exceptions'],
      'cflags_cc!': ['-O2', '-O0', '-fno-exceptions'],
      'cflags': ['-O3'],
      'cflags_cc': ['-O3', '-std=c++17', '-fexceptions', '-ffp-contract=off', '-fno-trapping-math', '-fno-math-errno'],
      'conditions': [
        ['OS!="mac"', {
          'cflags_cc': ['-fopenmp'],
          'ldflags': ['-fopenmp'],
        }],
        ['bert_simd=="avx2"', {
          # Only when the building CPU has AVX2+FMA (the addon is built where it runs, at install time);
          # GEMM speed itself comes from the library's runtime dispatch.
          'cflags_cc': ['-mavx2', '-mfma', '-mf16c'],
          'defines': ['BERT_X86_AVX2'],
        }],
        ['bert_mpi=="on"', {
          # MPI's flags as its compiler wrapper reports them (scripts/build-native.mjs probes mpicxx first).
          'defines': ['BERT_USE_MPI'],
          'cflags_cc': ['<!@(mpicxx --showme:compile)'],
          'libraries': ['<!@(mpicxx --showme:link)', '-ldl'],
        }],
        ['bert_backend=="dnnl"', {
          'defines': ['BERT_USE_DNNL'],
          'libraries': ['-ldnnl'],
        }],
        ['bert_backend=="openblas"', {
          'defines': ['BERT_USE_CBLAS'],
          'libraries': ['-lopenblas'],
        }],
        ['bert_backend=="accelerate"', {
          'defines': ['BERT_USE_CBLAS', 'BERT_USE_ACCELERATE', 'ACCELERATE_NEW_LAPACK'],
          'libraries': ['-framework Accelerate'],
        }],
        ['OS=="mac"', {
          'xcode_settings': {
            'GCC_ENABLE_CPP_EXCEPTIONS': 'YES',
            'OTHER_CPLUSPLUSFLAGS': ['-O3', '-std=c++17'],
          },
        }],
      ],
    },
  ],
}
