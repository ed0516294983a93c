// engines.h — the engines the backend conformance test runs against. To
// test another engine, add one line to Engines() (a name and a factory);
// every test of backend_conformance_test.cc then runs on it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "host/backend/backend.h"
#include "host/backend/memory_backend.h"
#include "host/backend/open.h"

namespace sx::backend::testing {

struct Engine {
  const char* name;
  // Opens a new, empty engine; scratch is an empty directory the engine may
  // use (and that is removed after the test).
  std::function<Status(const std::string& scratch, std::unique_ptr<Backend>* out)> open;
};

inline std::vector<Engine> Engines() {
  return {
      {"memory",
       [](const std::string&, std::unique_ptr<Backend>* out) {
         *out = std::make_unique<MemoryBackend>();
         return Status::OK();
       }},
      {"store",
       [](const std::string& scratch, std::unique_ptr<Backend>* out) {
         OpenOptions options;
         options.sync = store::SyncMode::kNever;
         return OpenBackend(scratch + "/store", options, out);
       }},
  };
}

}  // namespace sx::backend::testing
