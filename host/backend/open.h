// open.h — OpenBackend: the one place where a location names an engine.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "host/backend/backend.h"
#include "host/store/store.h"

namespace sx::backend {

struct OpenOptions {
  store::SyncMode sync = store::SyncMode::kAlways;
  bool read_only = false;
  uint64_t segment_bytes = 0;  // the embedded store's log segments; 0: its default
  // Told what recovery met while opening the embedded store (a torn tail cut off).
  std::function<void(const store::RecoveryNote&)> on_recovery_problem;
};

// Opens the engine `location` names. Today every location is the directory
// of an embedded store (created if missing, unless read_only). An engine
// reached by URL is recognised here by its scheme ("postgres://...") before
// the directory case, so nothing above this function changes when one is
// added.
Status OpenBackend(const std::string& location, const OpenOptions& options,
                   std::unique_ptr<Backend>* out);

}  // namespace sx::backend
