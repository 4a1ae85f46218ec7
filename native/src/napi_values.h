// Small N-API value helpers shared by the addon's binding files (addon.cc, mpi.cc).
#pragma once
#include <node_api.h>

#include <initializer_list>
#include <vector>

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

// One enumerable method of an exports object: its JavaScript name and the function behind it.
struct Method {
  const char* name;
  napi_callback fn;
};

// Defines `methods` on `target` (napi_define_properties of enumerable methods).
inline void defineMethods(napi_env env, napi_value target, std::initializer_list<Method> methods) {
  std::vector<napi_property_descriptor> props;
  for (const Method& m : methods)
    props.push_back({m.name, nullptr, m.fn, nullptr, nullptr, nullptr, napi_enumerable, nullptr});
  napi_define_properties(env, target, props.size(), props.data());
}

}  // namespace bert
