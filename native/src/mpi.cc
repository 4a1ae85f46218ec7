// MPI bindings (Open MPI or any MPI-3 library) for data-parallel training: init, rank/size, in-place all-reduce
// (blocking, and started / progressed / waited for overlap with backward), barrier, broadcast. Built only with BERT_USE_MPI (scripts/build-native.mjs probes mpicxx); otherwise the addon
// exports no `mpi` object and bert-ts runs as one process.
#include <node_api.h>

#include <cstdint>
#include <string>
#include <vector>

#include "mpi_binding.h"
#include "napi_values.h"

#ifdef BERT_USE_MPI
#include <dlfcn.h>
#include <mpi.h>

namespace {

bool initialisedHere = false;

// Reductions started by iallreduceSum and not yet waited for, with a reference that keeps each buffer alive.
std::vector<MPI_Request> pendingRequests;
std::vector<napi_ref> pendingBuffers;

void throwError(napi_env env, const std::string& msg) { napi_throw_error(env, nullptr, msg.c_str()); }

using bert::number;
using bert::undef;

std::string mpiErrorString(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  return std::string(text, static_cast<size_t>(len));
}

// A typed array argument: its data, element count and MPI datatype (Float32Array, Float64Array, Int32Array, Uint8Array).
struct Buffer {
  void* data = nullptr;
  size_t length = 0;
  MPI_Datatype type = MPI_DATATYPE_NULL;
};

bool readBuffer(napi_env env, napi_value v, const char* fn, Buffer& out) {
  bool isTa = false;
  napi_is_typedarray(env, v, &isTa);
  if (!isTa) {
    throwError(env, std::string("bert-native mpi.") + fn + ": argument 0 must be a typed array");
    return false;
  }
  napi_typedarray_type t;
  napi_get_typedarray_info(env, v, &t, &out.length, &out.data, nullptr, nullptr);
  switch (t) {
    case napi_float32_array: out.type = MPI_FLOAT; break;
    case napi_float64_array: out.type = MPI_DOUBLE; break;
    case napi_int32_array: out.type = MPI_INT32_T; break;
    case napi_uint8_array: out.type = MPI_UINT8_T; break;
    default:
      throwError(env, std::string("bert-native mpi.") + fn +
                          ": argument 0 must be a Float32Array, Float64Array, Int32Array or Uint8Array");
      return false;
  }
  if (out.length > static_cast<size_t>(INT32_MAX)) {
    throwError(env, std::string("bert-native mpi.") + fn + ": buffer of " + std::to_string(out.length) +
                        " elements is over MPI's int count; split it into buckets");
    return false;
  }
  return true;
}

bool ready(napi_env env, const char* fn) {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (!init || fin) {
    throwError(env, std::string("bert-native mpi.") + fn + ": MPI is not initialised (call mpi.init() first)" +
                        (fin ? " or was already finalised" : ""));
    return false;
  }
  return true;
}

bool check(napi_env env, const char* fn, int rc) {
  if (rc == MPI_SUCCESS) return true;
  throwError(env, std::string("bert-native mpi.") + fn + ": " + mpiErrorString(rc));
  return false;
}

// The arguments of a call whose argument 0 is a typed array (argv holds at least `want`), read into `b`, with MPI
// ready; false (a JS error pending) otherwise.
bool bufferCall(napi_env env, napi_callback_info info, const char* fn, size_t want, napi_value* argv, Buffer& b) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < want) {
    throwError(env, std::string("bert-native mpi.") + fn + ": expected " + std::to_string(want) + " argument(s)");
    return false;
  }
  return readBuffer(env, argv[0], fn, b) && ready(env, fn);
}

// init(): MPI_Init_thread (FUNNELED: only the JS thread calls MPI) once; returns { rank, size, library }.
napi_value Init(napi_env env, napi_callback_info) {
  int init = 0;
  MPI_Initialized(&init);
  if (!init) {
    // Node loads addons with RTLD_LOCAL, which hides libmpi's symbols from the plugins Open MPI dlopens at init
    // ("undefined symbol: ompi_..."); re-opening it RTLD_GLOBAL makes them visible.
    const char* names[] = {"libmpi.so.40", "libmpi.so.12", "libmpi.so"};
    for (const char* name : names)
      if (dlopen(name, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD) || dlopen(name, RTLD_NOW | RTLD_GLOBAL)) break;
    int provided = 0;
    if (!check(env, "init", MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided))) return nullptr;
    initialisedHere = true;
  }
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(version, &len);
  std::string lib(version, static_cast<size_t>(len));
  size_t nl = lib.find_first_of("\n,");
  if (nl != std::string::npos) lib.resize(nl);
  napi_value out, s;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "rank", number(env, rank));
  napi_set_named_property(env, out, "size", number(env, size));
  napi_create_string_utf8(env, lib.c_str(), lib.size(), &s);
  napi_set_named_property(env, out, "library", s);
  return out;
}

// finalize(): MPI_Finalize when init() started MPI (mpirun reports a rank that exits without it as failed).
napi_value Finalize(napi_env env, napi_callback_info) {
  int fin = 0;
  MPI_Finalized(&fin);
  if (initialisedHere && !fin) check(env, "finalize", MPI_Finalize());
  return undef(env);
}

// allreduceSum(buffer): element-wise sum over all ranks, in place (MPI_IN_PLACE); every rank gets the same result.
napi_value AllreduceSum(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  Buffer b;
  if (!bufferCall(env, info, "allreduceSum", 1, argv, b)) return nullptr;
  check(env, "allreduceSum",
        MPI_Allreduce(MPI_IN_PLACE, b.data, static_cast<int>(b.length), b.type, MPI_SUM, MPI_COMM_WORLD));
  return undef(env);
}

// iallreduceSum(buffer): starts the in-place sum (MPI_Iallreduce); the buffer must not be touched until waitAll().
napi_value IallreduceSum(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  Buffer b;
  if (!bufferCall(env, info, "iallreduceSum", 1, argv, b)) return nullptr;
  MPI_Request req;
  if (!check(env, "iallreduceSum",
             MPI_Iallreduce(MPI_IN_PLACE, b.data, static_cast<int>(b.length), b.type, MPI_SUM, MPI_COMM_WORLD, &req)))
    return nullptr;
  napi_ref ref;
  napi_create_reference(env, argv[0], 1, &ref);
  pendingRequests.push_back(req);
  pendingBuffers.push_back(ref);
  return undef(env);
}

void releasePending(napi_env env) {
  for (napi_ref ref : pendingBuffers) napi_delete_reference(env, ref);
  pendingBuffers.clear();
  pendingRequests.clear();
}

// progress(): drives the started reductions (MPI_Testall); returns true when none is left in flight.
napi_value Progress(napi_env env, napi_callback_info) {
  bool done = true;
  if (!pendingRequests.empty()) {
    if (!ready(env, "progress")) return nullptr;
    int flag = 0;
    if (!check(env, "progress",
               MPI_Testall(static_cast<int>(pendingRequests.size()), pendingRequests.data(), &flag,
                           MPI_STATUSES_IGNORE)))
      return nullptr;
    done = flag != 0;
    if (done) releasePending(env);
  }
  napi_value out;
  napi_get_boolean(env, done, &out);
  return out;
}

// waitAll(): waits for every started reduction (MPI_Waitall).
napi_value WaitAll(napi_env env, napi_callback_info) {
  if (pendingRequests.empty()) return undef(env);
  if (!ready(env, "waitAll")) return nullptr;
  const int rc =
      MPI_Waitall(static_cast<int>(pendingRequests.size()), pendingRequests.data(), MPI_STATUSES_IGNORE);
  releasePending(env);
  check(env, "waitAll", rc);
  return undef(env);
}

// broadcast(buffer, root): root's contents into every rank's buffer (same length everywhere).
napi_value Broadcast(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  Buffer b;
  if (!bufferCall(env, info, "broadcast", 2, argv, b)) return nullptr;
  int root = 0;
  if (napi_get_value_int32(env, argv[1], &root) != napi_ok) {
    throwError(env, "bert-native mpi.broadcast: argument 1 (root rank) must be a number");
    return nullptr;
  }
  check(env, "broadcast", MPI_Bcast(b.data, static_cast<int>(b.length), b.type, root, MPI_COMM_WORLD));
  return undef(env);
}

napi_value Barrier(napi_env env, napi_callback_info) {
  if (!ready(env, "barrier")) return nullptr;
  check(env, "barrier", MPI_Barrier(MPI_COMM_WORLD));
  return undef(env);
}

// wtime(): MPI_Wtime, the clock the all-reduce benchmark reports in.
napi_value Wtime(napi_env env, napi_callback_info) { return number(env, MPI_Wtime()); }

}  // namespace

namespace bert {

void registerMpi(napi_env env, napi_value exports) {
  napi_value mpi;
  napi_create_object(env, &mpi);
  bert::defineMethods(env, mpi,
                      {{"init", Init}, {"finalize", Finalize}, {"allreduceSum", AllreduceSum},
                       {"iallreduceSum", IallreduceSum}, {"progress", Progress}, {"waitAll", WaitAll},
                       {"broadcast", Broadcast}, {"barrier", Barrier}, {"wtime", Wtime}});
  napi_set_named_property(env, exports, "mpi", mpi);
}

}  // namespace bert

#else

namespace bert {

// Built without MPI: no `mpi` export, so the TypeScript side knows to run as one process.
void registerMpi(napi_env, napi_value) {}

}  // namespace bert

#endif
