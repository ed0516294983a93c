// What the files of the Store (store.cc lists them) share beyond store.h:
// small helpers that more than one of them uses. Private to host/store.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "host/store/env.h"
#include "host/store/event_index.h"
#include "host/store/status.h"

namespace sx::store {

// name, escaped and cut to 64 bytes, in double quotes: for messages.
std::string Quote(std::string_view name);

// The live-byte cost of a run's events (OpCost of each).
uint64_t RunCost(size_t name_size, const EventRun& r);

// Publishes bytes as path by write-temp, sync, rename, sync dir, so the file
// exists under its name only whole. Without `durable` both syncs are left
// to the OS. On failure the temp file is removed.
Status PublishFile(Env* env, const std::string& dir, const std::string& path,
                   std::string_view bytes, bool durable);

}  // namespace sx::store
