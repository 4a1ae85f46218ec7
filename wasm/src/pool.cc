// The worker pool of the threaded build (-pthread: shared imported memory, atomics). No emscripten pthreads: the
// loader (src/native/wasm-kernels.ts) instantiates this module once more per Web Worker / worker_thread on the same
// WebAssembly.Memory, gives each its own stack and TLS block (bk_thread_init) and parks it in bk_worker, which waits
// on a futex word for work. The main thread publishes a job and takes tasks itself; workers that wake late simply
// find none left, so a slow-starting worker never delays a call. A worker whose task throws or traps reports it
// (bk_worker_failed, called by the loader's worker script): its task counts as finished, so the call returns instead
// of waiting for it forever, and the loader turns the report into an error. In the single-threaded build (no
// atomics) the pool is a plain loop.
#include "pool.h"

#include <atomic>
#include <cstdlib>

#define EXPORT extern "C" __attribute__((used, visibility("default")))

#ifdef __EMSCRIPTEN_PTHREADS__

extern "C" void __wasm_init_tls(void* memory);

namespace bert {

namespace {

struct Job {
  void (*task)(void*, int64_t);
  void* ctx;
};

int threads = 1;                           // workers + the main thread (set by bk_set_threads)
bool mainCanBlock = false;                 // false on a page's main thread, where atomic waits trap
Job job{};                                 // written by the main thread before it publishes the generation
alignas(64) std::atomic<int32_t> generation{0};  // the futex word workers sleep on
alignas(64) std::atomic<uint64_t> claim{0};      // (generation << 32) | next task index of that generation
std::atomic<uint64_t> jobTasks{0};               // (generation << 32) | its task count: read as one with its tag
alignas(64) std::atomic<int32_t> done{0};        // tasks of the current job finished (the main thread's futex word)
std::atomic<int32_t> crashArmed{0};              // bk_test_crash_worker: the next task a worker takes traps
thread_local bool inTask = false;                // this thread is running a task (bk_worker_failed counts it done)
thread_local bool isWorker = false;

void taskFinished(int64_t tasks) {
  if (done.fetch_add(1, std::memory_order_acq_rel) + 1 == tasks)
    __builtin_wasm_memory_atomic_notify(reinterpret_cast<int32_t*>(&done), 1);
}

// Takes and runs tasks of job `gen` until none is left or the job is no longer current.
void runTasks(int32_t gen) {
  for (;;) {
    uint64_t c = claim.load(std::memory_order_acquire);
    if (static_cast<int32_t>(c >> 32) != gen) return;
    const uint64_t jt = jobTasks.load(std::memory_order_acquire);
    if (static_cast<int32_t>(jt >> 32) != gen) return;  // a newer job: none of `gen` is left
    const int64_t tasks = static_cast<int64_t>(jt & 0xffffffffu);
    if (static_cast<int64_t>(c & 0xffffffffu) >= tasks) return;
    if (!claim.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel)) continue;
    // Claimed: job `gen` cannot finish (nor be replaced) before this task is done.
    inTask = true;
    if (isWorker && crashArmed.load(std::memory_order_relaxed) && crashArmed.exchange(0)) __builtin_trap();
    job.task(job.ctx, static_cast<int64_t>(c & 0xffffffffu));
    inTask = false;
    taskFinished(tasks);
  }
}

}  // namespace

int poolThreads() { return threads; }

void parallelFor(int64_t tasks, void (*task)(void*, int64_t), void* ctx) {
  if (threads <= 1 || tasks <= 1) {
    for (int64_t i = 0; i < tasks; i++) task(ctx, i);
    return;
  }
  job = Job{task, ctx};
  done.store(0, std::memory_order_relaxed);
  const int32_t gen = generation.load(std::memory_order_relaxed) + 1;
  jobTasks.store(static_cast<uint64_t>(static_cast<uint32_t>(gen)) << 32 | static_cast<uint64_t>(tasks),
                 std::memory_order_release);
  claim.store(static_cast<uint64_t>(static_cast<uint32_t>(gen)) << 32, std::memory_order_release);
  generation.store(gen, std::memory_order_release);
  __builtin_wasm_memory_atomic_notify(reinterpret_cast<int32_t*>(&generation), threads - 1);
  runTasks(gen);
  // The tasks left are running on other threads: spin a little, then sleep until the last one notifies (a page's
  // main thread may not sleep: it spins on).
  int32_t finished;
  for (int spin = 0; (finished = done.load(std::memory_order_acquire)) < tasks; spin++)
    if (mainCanBlock && spin >= 20000)
      __builtin_wasm_memory_atomic_wait32(reinterpret_cast<int32_t*>(&done), finished, 1000000);
}

}  // namespace bert

using namespace bert;

// Called by the loader once its workers are started: how many threads parallelFor may use (the caller included), and
// whether the main thread may sleep in an atomic wait (Node, a Web Worker; not a page's main thread).
EXPORT void bk_set_threads(int32_t n, int32_t canBlock) {
  threads = n < 1 ? 1 : n;
  mainCanBlock = canBlock != 0;
}

// The TLS block a worker needs (malloc'd by the main thread: a worker's first malloc must not precede its TLS).
EXPORT void* bk_alloc_tls() {
  const size_t size = __builtin_wasm_tls_size(), align = __builtin_wasm_tls_align();
  return size ? std::aligned_alloc(align < sizeof(void*) ? sizeof(void*) : align, (size + align - 1) / align * align)
              : nullptr;
}

// In a worker's instance, before bk_worker: points its thread-local variables at `tls` (from bk_alloc_tls).
EXPORT void bk_thread_init(void* tls) {
  if (tls) __wasm_init_tls(tls);
}

// A worker's loop: waits for a new generation and helps with its tasks; never returns (the worker is ended whole).
EXPORT void bk_worker() {
  isWorker = true;
  int32_t seen = 0;
  for (;;) {
    int32_t gen = generation.load(std::memory_order_acquire);
    // Calls come in bursts (a forward is dozens of GEMMs): spin a little before sleeping.
    for (int spin = 0; gen == seen && spin < 20000; spin++) gen = generation.load(std::memory_order_acquire);
    if (gen == seen) {
      __builtin_wasm_memory_atomic_wait32(reinterpret_cast<int32_t*>(&generation), seen, -1);
      continue;
    }
    seen = gen;
    runTasks(gen);
  }
}

// Called (by the loader's worker script) in a worker whose bk_worker threw or trapped: the task it was running counts
// as finished, so that the call waiting for it returns (the loader then reports the failure). The worker takes no
// more tasks: the others and the main thread take them.
EXPORT void bk_worker_failed() {
  if (!inTask) return;
  inTask = false;
  taskFinished(static_cast<int64_t>(jobTasks.load(std::memory_order_acquire) & 0xffffffffu));
}

// For the tests: the next task a worker takes traps, as a crash in a kernel would.
EXPORT void bk_test_crash_worker() { crashArmed.store(1); }

#else

namespace bert {
int poolThreads() { return 1; }
void parallelFor(int64_t tasks, void (*task)(void*, int64_t), void* ctx) {
  for (int64_t i = 0; i < tasks; i++) task(ctx, i);
}
}  // namespace bert

#endif
