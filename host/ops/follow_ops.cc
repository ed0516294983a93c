// follow_ops.cc — persist/wait, over Store::Refresh and LogWatcher.
#include "host/ops/follow_ops.h"

#include <chrono>
#include <memory>
#include <string>

#include "host/ops/persist_ops.h"
#include "host/store/log_watch.h"

namespace sx::host {

namespace {

constexpr int64_t kMaxWaitMs = 60000;

IoResult Fail(Interpreter& in, const std::string& cause) {
  std::pair<std::string, Value> data[] = {{"op", in.String("persist/wait")},
                                          {"cause", in.String(cause)}};
  return IoResult::Failed("persist/wait: " + cause, in.Dict(data));
}

IoResult Wait(Interpreter& in, PersistService* service, std::unique_ptr<store::LogWatcher>* watcher,
              const Value& args) {
  std::vector<Value> a = args.IsList() ? args.Items() : std::vector<Value>{};
  if (a.size() != 2) return Fail(in, "takes (token timeout-ms)");
  if (!a[0].IsNil() && !a[0].IsInt()) {
    return Fail(in, "token must be nil or an integer, got " + a[0].Brief());
  }
  if (!a[1].IsInt() || a[1].AsInt() < 0 || a[1].AsInt() > kMaxWaitMs) {
    return Fail(in, "timeout-ms must be an integer from 0 to 60000, got " + a[1].Brief());
  }
  bool have_token = a[0].IsInt();
  int64_t token = have_token ? a[0].AsInt() : 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(a[1].AsInt());
  std::string error;
  store::Store* st = service->OpenStore(&error);  // a reader: refreshed here
  if (st == nullptr) return Fail(in, error);
  auto answer = [&](store::Store* s) {
    std::pair<std::string, Value> entries[] = {
        {"position", in.Int(static_cast<int64_t>(s->LogPosition()))},
        {"blocking", in.Bool(service->read_only())}};
    return IoResult::Served(in.Dict(entries));
  };
  if (!service->read_only()) return answer(st);
  if (!*watcher) *watcher = std::make_unique<store::LogWatcher>(service->data_dir());
  while (true) {
    // Armed before the look: a commit landing after it still wakes us.
    (*watcher)->Arm(st->ActiveSegmentPath());
    st = service->OpenStore(&error);
    if (st == nullptr) return Fail(in, error);
    int64_t now_pos = static_cast<int64_t>(st->LogPosition());
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (!have_token || now_pos != token || left <= 0) return answer(st);
    (*watcher)->Wait(static_cast<int>(left));
  }
}

}  // namespace

void InstallFollowOps(Interpreter& in, PersistService* service) {
  auto watcher = std::make_shared<std::unique_ptr<store::LogWatcher>>();
  in.AddIoHandler(
      [service, watcher](Interpreter& in, std::string_view op, const Value& args, const Value&) {
        if (op != "persist/wait") return IoResult::Pass();
        return Wait(in, service, watcher.get(), args);
      });
}

}  // namespace sx::host
