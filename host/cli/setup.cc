// setup.cc — building the interpreter the CLI runs.
#include "host/cli/setup.h"

#include <cstdlib>
#include <sstream>

#include "host/ops/persist_ops.h"
#include "host/ops/stdlib_modules.h"
#include "sx/world.h"

namespace sx::host {

void ApplyEnvironment(HostOptions* opts) {
  if (opts->data_dir.empty()) {
    const char* u = std::getenv("SX_PERSIST_URL");
    const char* d = std::getenv("SX_PERSIST_DIR");
    opts->data_dir = (u != nullptr && *u != '\0')   ? u
                     : (d != nullptr && *d != '\0') ? d
                                                    : "./persist-data";
  }
  if (const char* s = std::getenv("SX_PERSIST_SYNC"); s != nullptr && *s != '\0') {
    opts->sync = s;
  }
  if (const char* b = std::getenv("SX_PERSIST_SEGMENT_BYTES"); b != nullptr && *b != '\0') {
    opts->segment_bytes = b;
  }
  if (const char* r = std::getenv("SX_PERSIST_READ_ONLY"); r != nullptr && std::string(r) == "1") {
    opts->read_only = true;
  }
}

namespace {

void DefineTestNatives(Interpreter& in) {
  in.DefineNative(
      "%test-fail", 3, 3,
      "(%test-fail message expected actual) — fails an assertion (used by the test library).",
      [](Interpreter& in, std::span<const Value> a) -> Value {
        std::pair<std::string, Value> entries[] = {{"expected", a[1]}, {"actual", a[2]}};
        throw Error(a[0].AsString() + ": expected " + a[1].Inspect() + ", got " + a[2].Inspect(),
                    in.Dict(entries));
      });
}

void DefineScriptArgs(Interpreter& in, const std::vector<std::string>& args) {
  std::vector<Value> items;
  for (const std::string& a : args) items.push_back(in.String(a));
  in.Define("*args*", in.List(items));
}

void AddSearchPaths(Interpreter& in) {
  const char* path = std::getenv("SX_PATH");
  if (path == nullptr) return;
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (!dir.empty()) in.AddSearchPath(dir);
  }
}

}  // namespace

Host::Host(HostOptions opts) : opts_(std::move(opts)), in_(std::make_unique<Interpreter>()) {
  in_->SetModuleLoader(FindStdlibModule);
  AddSearchPaths(*in_);
  DefineTestNatives(*in_);
  DefineScriptArgs(*in_, opts_.script_args);
  persist_ = std::make_unique<PersistService>(opts_.data_dir, opts_.sync, opts_.segment_bytes,
                                              opts_.read_only);
  persist_->Install(*in_);
  PersistService* service = persist_.get();
  // The world a script meets (include/sx/world.h): clocks, files, streams,
  // exit, JSON and format, with the sys module's functions bound.
  WorldOptions world;
  world.exit = opts_.exit;
  if (!world.exit) {
    world.exit = [service](int code) {
      service->Close();  // the store's files closed as at a normal end
      std::exit(code);
    };
  }
  AttachWorld(*in_, world);
  in_->DefineNative("%persist-restart", 0, 0,
                    "(%persist-restart) — closes the store; the next persist op reopens it "
                    "and recovers from the files, as a new process would. For tests.",
                    [service](Interpreter& in, std::span<const Value>) {
                      service->Close();
                      return in.Nil();
                    });
}

Host::~Host() = default;

}  // namespace sx::host
