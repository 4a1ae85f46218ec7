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

}  // namespace bert
