// Small N-API value helpers shared by the addon's binding files (addon.cc, mpi.cc).
#pragma once
#include <node_api.h>

namespace bert {

inline napi_value undef(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

inline napi_value number(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

// An enumerable method `name` of an exports object, for napi_define_properties tables.
inline napi_property_descriptor method(const char* name, napi_callback fn) {
  return {name, nullptr, fn, nullptr, nullptr, nullptr, napi_enumerable, nullptr};
}

}  // namespace bert
