// open.cc — from a location to an engine.
#include "host/backend/open.h"

#include <cctype>
#include <optional>
#include <string>

#include "host/backend/read_only.h"
#include "host/backend/store_backend.h"
#include "host/pg/pg_backend.h"
#include "host/pg/pg_conn.h"
#include "host/store/env.h"
#include "host/store/rose_ash.h"

namespace sx::backend {

bool IsPostgresUrl(const std::string& location) {
  return location.starts_with("postgres://") || location.starts_with("postgresql://");
}

std::string LocationForMessages(const std::string& location) {
  if (!IsPostgresUrl(location)) return location;
  size_t start = location.find("://") + 3;
  size_t at = location.find('@', start);
  size_t slash = location.find('/', start);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return location;
  size_t colon = location.find(':', start);
  if (colon == std::string::npos || colon > at) return location;
  return location.substr(0, colon) + location.substr(at);
}

namespace {

// Takes the parameter "NAME=VALUE" out of the URL's query (libpq refuses
// parameters it does not know) and returns VALUE, or nullopt when there is
// none.
std::optional<std::string> TakeParam(std::string* url, const std::string& name) {
  size_t q = url->find('?');
  if (q == std::string::npos) return std::nullopt;
  std::string kept;
  std::optional<std::string> value;
  size_t at = q + 1;
  while (at <= url->size()) {
    size_t amp = url->find('&', at);
    if (amp == std::string::npos) amp = url->size();
    std::string param = url->substr(at, amp - at);
    if (param.starts_with(name + "=")) {
      value = param.substr(name.size() + 1);
    } else if (!param.empty()) {
      kept += (kept.empty() ? "" : "&") + param;
    }
    at = amp + 1;
  }
  url->resize(q);
  if (!kept.empty()) *url += "?" + kept;
  return value;
}

std::string TakeSchema(std::string* url) { return TakeParam(url, "schema").value_or(""); }

bool IsSchemaName(const std::string& s) {
  if (s.empty() || s.size() > 63 || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '_')) {
      return false;
    }
  }
  return true;
}

Status OpenPostgresUrl(std::string url, const OpenOptions& options, std::unique_ptr<Backend>* out) {
  pg::PgOptions pg;
  std::string schema = TakeSchema(&url);
  if (!schema.empty()) {
    if (!IsSchemaName(schema)) {
      return Status::InvalidArgument("schema \"" + schema +
                                     "\": use lower-case letters, digits and _ (at most 63)");
    }
    pg.schema = schema;
  }
  if (std::optional<std::string> overlap = TakeParam(&url, "overlap")) {
    if (*overlap == "on") {
      pg.overlap = Backend::Overlap::kOn;
    } else if (*overlap == "off") {
      pg.overlap = Backend::Overlap::kOff;
    } else if (*overlap == "auto") {
      pg.overlap = Backend::Overlap::kAuto;
    } else {
      return Status::InvalidArgument("overlap \"" + *overlap + "\": use on, off or auto");
    }
  }
  pg.url = url;
  std::unique_ptr<Backend> b;
  Status s = pg::OpenPostgres(pg, &b);
  if (!s.ok()) return s;
  if (options.read_only) b = MakeReadOnly(std::move(b));
  *out = std::move(b);
  return Status::OK();
}

}  // namespace

Status DropPostgresSchema(const std::string& url) {
  std::string plain = url;
  std::string schema = TakeSchema(&plain);
  if (!IsPostgresUrl(url) || !IsSchemaName(schema)) {
    return Status::InvalidArgument("drop schema: the URL names no schema");
  }
  pg::Conn conn;
  Status s = conn.Connect(plain);
  if (s.ok()) s = conn.Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
  return s;
}

Status OpenBackend(const std::string& location, const OpenOptions& options,
                   std::unique_ptr<Backend>* out) {
  if (IsPostgresUrl(location)) return OpenPostgresUrl(location, options, out);
  // A data directory of the reference host is not an empty store: opening
  // it as one would hide its data. `sx store import --from rose-ash` reads it.
  if (store::LooksLikeRoseAshDir(store::Env::Default(), location)) {
    return Status::InvalidArgument(store::RoseAshHint(location));
  }
  store::Options opts;
  opts.sync = options.sync;
  opts.read_only = options.read_only;
  opts.auto_compact = options.auto_compact;
  if (options.segment_bytes != 0) opts.segment_bytes = options.segment_bytes;
  opts.on_recovery_problem = options.on_recovery_problem;
  return StoreBackend::Open(opts, location, out);
}

}  // namespace sx::backend
