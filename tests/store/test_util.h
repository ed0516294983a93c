// Helpers shared by the store tests.
#pragma once

#include <memory>
#include <string>

#include "host/store/mem_env.h"
#include "host/store/store.h"

namespace sx::store::testing {

inline Options MemOptions(Env* env, SyncMode sync = SyncMode::kAlways) {
  Options o;
  o.env = env;
  o.sync = sync;
  o.segment_bytes = 4096;
  return o;
}

inline std::unique_ptr<Store> OpenOrDie(const Options& options, const std::string& dir) {
  std::unique_ptr<Store> store;
  Status s = Store::Open(options, dir, &store);
  if (!s.ok()) throw std::runtime_error("open failed: " + s.ToString());
  return store;
}

}  // namespace sx::store::testing
