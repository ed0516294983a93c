// persist_api.cc — include/sx/persist.h: the durable store for embedders, a
// thin layer over PersistService (the persist/* and blob/* ops) and the
// stdlib table built into the library.
#include <string>

#include "host/ops/follow_ops.h"
#include "host/ops/persist_ops.h"
#include "host/ops/stdlib_modules.h"
#include "sx/persist.h"

namespace sx {

bool ParseSyncMode(std::string_view text, SyncMode* mode) {
  for (SyncMode m : {SyncMode::kAlways, SyncMode::kBatch, SyncMode::kNever}) {
    if (text == SyncModeName(m)) {
      *mode = m;
      return true;
    }
  }
  return false;
}

const char* SyncModeName(SyncMode mode) {
  switch (mode) {
    case SyncMode::kAlways:
      return "always";
    case SyncMode::kBatch:
      return "batch";
    case SyncMode::kNever:
      return "never";
  }
  return "always";
}

bool FindStdlibModule(std::string_view name, std::string* source) {
  for (const host::StdlibModule* m = host::StdlibModules(); m->name != nullptr; ++m) {
    if (name == m->name) {
      *source = m->source;
      return true;
    }
  }
  return false;
}

// PersistService takes the store's options as the text the `sx` command reads
// from its flags and environment; it checks them when it opens the store.
DurableStore::DurableStore(const StoreOptions& options)
    : options_(options),
      service_(std::make_unique<host::PersistService>(
          options.dir, SyncModeName(options.sync),
          options.segment_bytes == 0 ? "" : std::to_string(options.segment_bytes),
          options.read_only)) {}

DurableStore::~DurableStore() = default;

std::unique_ptr<DurableStore> DurableStore::Open(const StoreOptions& options, std::string* error) {
  std::unique_ptr<DurableStore> store(new DurableStore(options));
  if (store->service_->OpenStore(error) == nullptr) return nullptr;
  return store;
}

std::unique_ptr<DurableStore> DurableStore::OpenLazily(const StoreOptions& options) {
  return std::unique_ptr<DurableStore>(new DurableStore(options));
}

void DurableStore::Attach(Interpreter& in) {
  service_->Install(in);
  host::InstallFollowOps(in, service_.get());
  in.SetModuleLoader(FindStdlibModule);
}

void DurableStore::Close() { service_->Close(); }

bool DurableStore::is_open() const { return service_->is_open(); }

}  // namespace sx
