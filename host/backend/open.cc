// open.cc — from a location to an engine.
#include "host/backend/open.h"

#include "host/backend/store_backend.h"
#include "host/store/env.h"
#include "host/store/rose_ash.h"

namespace sx::backend {

Status OpenBackend(const std::string& location, const OpenOptions& options,
                   std::unique_ptr<Backend>* out) {
  // An engine reached by URL is matched here, by scheme, before the
  // directory case below.
  // A data directory of the reference host is not an empty store: opening
  // it as one would hide its data. `sx store import --from rose-ash` reads it.
  if (store::LooksLikeRoseAshDir(store::Env::Default(), location)) {
    return Status::InvalidArgument(store::RoseAshHint(location));
  }
  store::Options opts;
  opts.sync = options.sync;
  opts.read_only = options.read_only;
  if (options.segment_bytes != 0) opts.segment_bytes = options.segment_bytes;
  opts.on_recovery_problem = options.on_recovery_problem;
  return StoreBackend::Open(opts, location, out);
}

}  // namespace sx::backend
