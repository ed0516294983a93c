// engines.h — the engines the backend conformance test runs against. To
// test another engine, add one line to Engines() (a name and a factory);
// every test of backend_conformance_test.cc then runs on it.
//
// "postgres" runs on the server SX_PG_URL names (scripts/test starts a
// throw-away one), each test in a schema of its own that is dropped after
// it. Without SX_PG_URL its tests fail, saying so: they never skip.
#pragma once

#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "host/backend/backend.h"
#include "host/backend/memory_backend.h"
#include "host/backend/open.h"
#include "host/pg/pg_conn.h"

namespace sx::backend::testing {

struct Engine {
  const char* name;
  // Opens a new, empty engine; scratch is an empty directory the engine may
  // use (and that is removed after the test).
  std::function<Status(const std::string& scratch, std::unique_ptr<Backend>* out)> open;
  // Removes what open made outside scratch (nullptr: nothing).
  std::function<void(const std::string& scratch)> remove;
};

inline void PrintTo(const Engine& e, std::ostream* os) { *os << e.name; }

// A schema name of the test's own, from its scratch directory.
inline std::string ScratchSchema(const std::string& scratch) {
  std::string name = "conf_";
  for (char c : std::filesystem::path(scratch).filename().string()) {
    name += std::isalnum(static_cast<unsigned char>(c))
                ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
                : '_';
  }
  return name + "_" + std::to_string(getpid());
}

inline std::string PgUrl() {
  const char* url = std::getenv("SX_PG_URL");
  return url != nullptr ? url : "";
}

inline std::vector<Engine> Engines() {
  return {
      {"memory",
       [](const std::string&, std::unique_ptr<Backend>* out) {
         *out = std::make_unique<MemoryBackend>();
         return Status::OK();
       },
       nullptr},
      {"store",
       [](const std::string& scratch, std::unique_ptr<Backend>* out) {
         OpenOptions options;
         options.sync = store::SyncMode::kNever;
         return OpenBackend(scratch + "/store", options, out);
       },
       nullptr},
      {"postgres",
       [](const std::string& scratch, std::unique_ptr<Backend>* out) {
         std::string url = PgUrl();
         if (url.empty()) {
           return Status::InvalidArgument(
               "SX_PG_URL is unset: the postgres engine needs a server (eval "
               "\"$(scripts/pg_server.sh "
               "start)\"; scripts/test does this)");
         }
         url += (url.find('?') == std::string::npos ? "?" : "&");
         return OpenBackend(url + "schema=" + ScratchSchema(scratch), OpenOptions(), out);
       },
       [](const std::string& scratch) {
         pg::Conn admin;
         if (PgUrl().empty() || !admin.Connect(PgUrl()).ok()) return;
         admin.Exec("DROP SCHEMA IF EXISTS " + ScratchSchema(scratch) + " CASCADE").IgnoreError();
       }},
  };
}

}  // namespace sx::backend::testing
