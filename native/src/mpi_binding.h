// The MPI bindings' entry point (mpi.cc): adds the `mpi` object to the addon's exports when built with MPI.
#pragma once
#include <node_api.h>

namespace bert {
void registerMpi(napi_env env, napi_value exports);
}
