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
  bool auto_compact = true;    // the embedded store compacts as it goes (off: bulk loads)
  // Told what recovery met while opening the embedded store (a torn tail cut off).
  std::function<void(const store::RecoveryNote&)> on_recovery_problem;
};

// Opens the engine `location` names: a URL postgres://... or
// postgresql://... names a PostgreSQL database (host/pg/; the libpq URL,
// plus an optional query parameter schema=NAME, default "sx", so several
// stores can share a database; sync and segment_bytes do not apply, and
// read_only wraps it in MakeReadOnly); anything else is the directory of an
// embedded store (created if missing, unless read_only). Nothing above this
// function knows which engine it got.
Status OpenBackend(const std::string& location, const OpenOptions& options,
                   std::unique_ptr<Backend>* out);

// True when location names a PostgreSQL database rather than a directory.
bool IsPostgresUrl(const std::string& location);
// Drops the PostgreSQL schema that url names with schema=NAME, and all it
// holds (a test's scratch store). InvalidArgument when url names none.
Status DropPostgresSchema(const std::string& url);
// location as messages may show it: a URL without its password.
std::string LocationForMessages(const std::string& location);

}  // namespace sx::backend
