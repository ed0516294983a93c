// setup.cc — building the interpreter the CLI runs.
#include "host/setup.h"

#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include "host/format.h"
#include "host/json.h"
#include "host/persist_ops.h"
#include "host/stdlib_modules.h"
#include "host/sys_ops.h"
#include "host/time_natives.h"

namespace sx::host {

void ApplyEnvironment(HostOptions* opts) {
  if (opts->data_dir.empty()) {
    const char* d = std::getenv("SX_PERSIST_DIR");
    opts->data_dir = (d != nullptr && *d != '\0') ? d : "./persist-data";
  }
  if (const char* s = std::getenv("SX_PERSIST_SYNC"); s != nullptr && *s != '\0') {
    opts->sync = s;
  }
  if (const char* b = std::getenv("SX_PERSIST_SEGMENT_BYTES"); b != nullptr && *b != '\0') {
    opts->segment_bytes = b;
  }
}

bool FindStdlib(std::string_view name, std::string* source) {
  return FindStdlibModule(name, source);
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

// The world a script meets: the ops of the clocks, files, streams and exit,
// the pure natives beside them, and the stdlib module `sys` that wraps the
// ops, loaded from the binary (never from SX_PATH) so its names are bound in
// every script.
void InstallWorld(Interpreter& in, SysOptions sys) {
  InstallSysOps(in, std::move(sys));
  DefineTimeNatives(in);
  DefineFormatNatives(in);
  DefineJsonNatives(in);
  std::string source;
  if (!FindStdlib("sys", &source)) return;
  Outcome o = in.Eval(source, "<stdlib>/sys.sx");
  if (o.status != sx::Status::kDone) throw std::logic_error("stdlib sys: " + o.error_text);
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
  in_->SetModuleLoader(FindStdlib);
  AddSearchPaths(*in_);
  DefineTestNatives(*in_);
  DefineScriptArgs(*in_, opts_.script_args);
  persist_ = std::make_unique<PersistService>(opts_.data_dir, opts_.sync, opts_.segment_bytes);
  persist_->Install(*in_);
  PersistService* service = persist_.get();
  SysOptions sys;
  sys.exit = opts_.exit;
  if (!sys.exit) {
    sys.exit = [service](int code) {
      service->Close();  // the store's files closed as at a normal end
      std::exit(code);
    };
  }
  InstallWorld(*in_, std::move(sys));
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
