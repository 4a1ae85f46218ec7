// The worker pool of the threaded WebAssembly build (see pool.cc): parallelFor runs tasks on the calling thread and
// the workers sharing this module's memory; in the single-threaded build it is a plain loop.
#pragma once
#include <cstdint>

namespace bert {

// Threads that take part in a parallelFor (the caller included): 1 until the loader starts workers.
int poolThreads();

// Runs task(ctx, i) for i in [0, tasks), each exactly once, on any of the pool's threads; returns when all are done.
// Only the main thread calls it, never from inside a task.
void parallelFor(int64_t tasks, void (*task)(void* ctx, int64_t i), void* ctx);

// The same over a lambda (captured by reference: it outlives the call).
template <class F>
void parallelFor(int64_t tasks, const F& f) {
  parallelFor(tasks, [](void* ctx, int64_t i) { (*static_cast<const F*>(ctx))(i); }, const_cast<F*>(&f));
}

// fn(begin, end) over contiguous ranges of [0, n), one per thread, each at least `grain` long (an element-wise
// kernel's rows or elements: below PAR_MIN_ELEMENTS of work in all it stays on the calling thread).
constexpr int64_t PAR_MIN_ELEMENTS = 32768;
template <class F>
void parallelRanges(int64_t n, int64_t grain, const F& fn) {
  int64_t parts = grain > 0 ? n / grain : n;
  parts = parts < poolThreads() ? parts : poolThreads();
  if (parts <= 1) {
    if (n > 0) fn(int64_t{0}, n);
    return;
  }
  const int64_t chunk = (n + parts - 1) / parts;
  parallelFor(parts, [&](int64_t i) {
    const int64_t begin = i * chunk, end = begin + chunk < n ? begin + chunk : n;
    if (begin < end) fn(begin, end);
  });
}

// The rows of a [rows, cols] element-wise kernel (see parallelRanges).
template <class F>
void parallelRows(int64_t rows, int64_t cols, const F& fn) {
  parallelRanges(rows, cols > 0 ? (PAR_MIN_ELEMENTS + cols - 1) / cols : rows, fn);
}

}  // namespace bert
