// read_only.h — a Backend that serves the reads of another and refuses its
// writes, for engines without a read-only mode of their own (PostgreSQL:
// `sx --read-only --store postgres://...`, `sx store tail` on a URL).
#pragma once

#include <memory>

#include "host/backend/backend.h"

namespace sx::backend {

// Every write (CommitGroup's batches, BlobPut, Compact) fails with
// InvalidArgument "store is opened read-only", as the embedded store's own
// read-only mode does; reads, stats and the followers' methods go to inner.
std::unique_ptr<Backend> MakeReadOnly(std::unique_ptr<Backend> inner);

}  // namespace sx::backend
