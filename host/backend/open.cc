// open.cc — from a location to an engine.
#include "host/backend/open.h"

#include "host/backend/store_backend.h"

namespace sx::backend {

Status OpenBackend(const std::string& location, const OpenOptions& options,
                   std::unique_ptr<Backend>* out) {
  // An engine reached by URL is matched here, by scheme, before the
  // directory case below.
  store::Options opts;
  opts.sync = options.sync;
  opts.read_only = options.read_only;
  if (options.segment_bytes != 0) opts.segment_bytes = options.segment_bytes;
  opts.on_recovery_problem = options.on_recovery_problem;
  return StoreBackend::Open(opts, location, out);
}

}  // namespace sx::backend
