// persist_service.cc — serving the op table (persist_ops.cc): one path for
// a single request and for a scheduler round of many.
//
// Every op runs on the host's one thread, so a check-then-write op is atomic
// with respect to every other SX computation of this process. A round is
// taken in order: each request's arguments are checked against its op's
// declaration (CheckArgs, the one place), then the op is planned; the
// batches of consecutive write ops go to Backend::CommitGroup together (one
// write, one sync), and any other op first commits the writes before it, so
// it sees them. When a write planned on the round's view was refused
// because an earlier one was, the ops whose batch rests on that view
// (append-next) are planned again alone. No answer is given before its
// commit returns, so under sync=always no task resumes before its own write
// is on stable storage.
//
// Parking. An engine that waits on a server (PostgreSQL) takes a socket
// waiter from the service (Backend::SetSocketWaiter). A round's requests
// are then served on the service's fiber (host_fiber.h); when the engine
// has to wait for the server there, the waiter parks the fiber on the
// socket and the round's requests are answered later (IoResult::Later), so
// the interpreter's other tasks go on. The service's poller, which the
// interpreter calls while answers are outstanding, polls that socket and
// resumes the fiber; when the work ends, each request gets its answer. A
// connection carries one conversation at a time: requests that come while
// the work is parked wait, in order, and go together as the next group (one
// group commit). Served outside the fiber (HandleOp, a tool), the waiter
// polls, and the calls block as they always did.
#include <poll.h>
#include <time.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "host/backend/open.h"
#include "host/ops/op_call.h"
#include "sx/persist.h"

namespace sx::host {

namespace {

// --- argument checks: the one place ----------------------------------------------------

size_t ArgCount(const OpSpec& op) {
  size_t n = 0;
  while (n < std::size(op.args) && op.args[n].name != nullptr) ++n;
  return n;
}

size_t RequiredCount(const OpSpec& op) {
  size_t n = 0;
  while (n < ArgCount(op) && !op.args[n].optional) ++n;
  return n;
}

const char* KindText(ArgKind kind) {
  switch (kind) {
    case ArgKind::kString:
      return "a string";
    case ArgKind::kInt:
      return "an integer";
    case ArgKind::kList:
      return "a list";
    case ArgKind::kStringOrNil:
      return "a string or nil";
    case ArgKind::kAny:
      break;
  }
  return "anything";
}

bool KindFits(ArgKind kind, const Value& v) {
  switch (kind) {
    case ArgKind::kString:
      return v.IsString();
    case ArgKind::kInt:
      return v.IsInt();
    case ArgKind::kList:
      return v.IsList();
    case ArgKind::kStringOrNil:
      return v.IsString() || v.IsNil();
    case ArgKind::kAny:
      break;
  }
  return true;
}

void CheckArgs(const OpCall& c) {
  size_t max = ArgCount(c.spec), min = RequiredCount(c.spec), n = c.args.size();
  if (n < min || n > max) {
    std::string want =
        min == max ? std::to_string(min) : std::to_string(min) + " to " + std::to_string(max);
    c.Fail("expected " + want + " argument" + (max == 1 ? "" : "s") + ", got " + std::to_string(n));
  }
  for (size_t i = 0; i < n; ++i) {
    const ArgSpec& a = c.spec.args[i];
    if (!KindFits(a.kind, c.args[i])) {
      c.Fail("argument " + std::to_string(i + 1) + " (" + a.name + ") must be " + KindText(a.kind) +
             ", got " + c.args[i].Brief());
    }
  }
}

// --- serving -----------------------------------------------------------------------------

IoResult Failure(Interpreter& in, std::string_view op, const OpFailure& f) {
  std::string msg(op);
  if (!f.subject_kind.empty()) msg += ": " + f.subject_kind + " " + in.String(f.subject).Brief();
  msg += ": " + f.cause;
  std::vector<std::pair<std::string, Value>> data = {{"op", in.String(op)},
                                                     {"cause", in.String(f.cause)}};
  if (!f.subject_kind.empty()) data.emplace_back(f.subject_kind, in.String(f.subject));
  return IoResult::Failed(msg, in.Dict(data));
}

// Checks and plans c; an answer now, or nullopt when c's batch waits for the commit.
std::optional<IoResult> Plan(OpCall& c) {
  try {
    CheckArgs(c);
    c.spec.plan(c);
  } catch (const OpFailure& f) {
    return Failure(c.in, c.spec.name, f);
  }
  if (c.answer) return IoResult::Served(*c.answer);
  return std::nullopt;
}

// How many times append-next is planned again alone when its view was
// wrong; on this host the second plan cannot conflict (one writer), but an
// engine shared by many hosts may see the stream move again.
constexpr int kMaxPlans = 16;

IoResult Finish(OpCall& c, Status s) {
  for (int plans = 1; s.IsConflict() && c.plan_again_on_conflict && plans < kMaxPlans; ++plans) {
    RoundView alone;
    OpCall again(c.in, c.spec, c.args, c.b, &alone);
    if (std::optional<IoResult> now = Plan(again)) return *now;
    s = c.b->Commit(again.batch);
    c.result = again.result;
    c.subject = again.subject;
  }
  try {
    return IoResult::Served(c.spec.finish(c, s));
  } catch (const OpFailure& f) {
    return Failure(c.in, c.spec.name, f);
  }
}

// The grouped writes of a round waiting for their commit.
struct Pending {
  size_t index;
  std::unique_ptr<OpCall> call;
};

void Commit(backend::Backend* b, std::vector<Pending>& pending, RoundView& view,
            std::span<IoRequest> batch) {
  if (pending.empty()) return;
  std::vector<const WriteBatch*> batches;
  batches.reserve(pending.size());
  for (const Pending& p : pending) batches.push_back(&p.call->batch);
  std::vector<Status> results;
  b->CommitGroup(batches, &results);
  for (size_t i = 0; i < pending.size(); ++i) {
    batch[pending[i].index].result = Finish(*pending[i].call, results[i]);
  }
  pending.clear();
  view = RoundView();
}

}  // namespace

const OpSpec* FindPersistOp(std::string_view name) {
  for (const OpSpec& op : PersistOps()) {
    if (name == op.name) return &op;
  }
  return nullptr;
}

std::string OpSignature(const OpSpec& op) {
  std::string sig = "(";
  size_t n = ArgCount(op), open = 0;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) sig += " ";
    if (op.args[i].optional) {
      sig += "[";
      ++open;
    }
    sig += op.args[i].name;
  }
  sig += std::string(open, ']') + ")";
  return sig;
}

PersistService::PersistService(std::string location, std::string sync_mode,
                               std::string segment_bytes, bool read_only)
    : location_(std::move(location)),
      sync_mode_(std::move(sync_mode)),
      segment_bytes_(std::move(segment_bytes)),
      read_only_(read_only) {}

PersistService::~PersistService() { Drain(); }

void PersistService::Install(Interpreter& in) {
  in.AddBatchIoHandler(
      [this](Interpreter& in, std::span<IoRequest> batch) { HandleBatch(in, batch); });
  in.AddIoHandler([this](Interpreter& in, std::string_view op, const Value& args, const Value&) {
    return HandleOp(in, op, args);
  });
  in.SetIoPoller([this](Interpreter&, int64_t timeout_ns) { Poll(timeout_ns); });
}

IoResult PersistService::HandleOp(Interpreter& in, std::string_view op, const Value& args) {
  // Not ours: pass at once. The work in flight must not end here, since
  // the requests of the round being served are not yet awaiting answers.
  if (FindPersistOp(op) == nullptr) return IoResult::Pass();
  Drain();  // one conversation at a time on the engine's connection
  IoRequest one;
  one.op = std::string(op);
  one.args = args;
  Serve(in, std::span<IoRequest>(&one, 1));
  return one.result;
}

bool PersistService::busy() const { return fiber_ != nullptr && fiber_->parked(); }

void PersistService::HandleBatch(Interpreter& in, std::span<IoRequest> batch) {
  if (backend_ != nullptr && !parks_) {
    Serve(in, batch);  // an engine that answers at once: no fiber needed
    return;
  }
  if (busy() && &in != in_) Drain();  // another interpreter's work: end it first
  std::vector<size_t> ours;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].result.kind == IoResult::kPass && FindPersistOp(batch[i].op) != nullptr) {
      ours.push_back(i);
    }
  }
  if (ours.empty()) return;
  if (busy()) {
    for (size_t i : ours) {
      queued_.push_back(batch[i]);
      batch[i].result = IoResult::Later();
    }
    return;
  }
  work_.clear();
  for (size_t i : ours) work_.push_back(batch[i]);
  in_ = &in;
  if (StartWork(in)) {
    for (size_t k = 0; k < ours.size(); ++k) batch[ours[k]].result = std::move(work_[k].result);
    work_.clear();
    return;
  }
  for (size_t i : ours) batch[i].result = IoResult::Later();
}

bool PersistService::StartWork(Interpreter& in) {
  if (!fiber_) fiber_ = std::make_unique<HostFiber>();
  return fiber_->Start([this, &in] { Serve(in, work_); });
}

namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void PersistService::WaitOnSocket(int fd, short events, int timeout_ms) {
  if (fiber_ != nullptr && fiber_->inside() && !draining_) {
    park_fd_ = fd;
    park_events_ = events;
    park_deadline_ns_ = timeout_ms < 0 ? -1 : NowNs() + int64_t{timeout_ms} * 1000000;
    fiber_->Park();
    park_fd_ = -1;
    return;
  }
  pollfd p{fd, events, 0};
  poll(&p, 1, timeout_ms);
}

void PersistService::Poll(int64_t timeout_ns) {
  if (!busy()) return;
  int64_t wait = timeout_ns;
  if (park_deadline_ns_ >= 0) {
    int64_t left = std::max<int64_t>(0, park_deadline_ns_ - NowNs());
    wait = wait < 0 ? left : std::min(wait, left);
  }
  pollfd p{park_fd_, park_events_, 0};
  timespec ts{static_cast<time_t>(wait / 1000000000), static_cast<long>(wait % 1000000000)};
  int n = ppoll(&p, 1, wait < 0 ? nullptr : &ts, nullptr);
  // A poll that fails (but for a signal) is left to the engine to find out.
  bool due = n > 0 || (n < 0 && errno != EINTR) ||
             (park_deadline_ns_ >= 0 && NowNs() >= park_deadline_ns_);
  if (due) Continue();
}

void PersistService::Continue() {
  Interpreter& in = *in_;
  // Runs the work on the fiber; true when it ended. Out of memory ends it:
  // the requests it had not answered fail, and none is served twice.
  auto run = [&](auto step) {
    try {
      return step();
    } catch (std::bad_alloc&) {
      for (IoRequest& q : work_) {
        if (q.result.kind == IoResult::kPass) q.result = IoResult::Failed("out of memory");
      }
      return true;
    }
  };
  bool ended = run([&] { return fiber_->Resume(); });
  while (ended) {
    std::vector<IoRequest> done;
    done.swap(work_);
    for (IoRequest& q : done) in.Answer(q.token, std::move(q.result));
    if (queued_.empty()) return;
    work_.swap(queued_);
    ended = run([&] { return StartWork(in); });
  }
}

void PersistService::Drain() {
  if (!busy()) return;
  draining_ = true;
  Continue();
  draining_ = false;
}

void PersistService::Serve(Interpreter& in, std::span<IoRequest> batch) {
  std::vector<Pending> pending;
  RoundView view;
  backend::Backend* grouped_on = nullptr;
  for (size_t i = 0; i < batch.size(); ++i) {
    IoRequest& q = batch[i];
    const OpSpec* spec = q.result.kind == IoResult::kPass ? FindPersistOp(q.op) : nullptr;
    if (spec == nullptr) continue;
    backend::Backend* b = nullptr;
    if (spec->mode != OpMode::kPure) {
      std::string error;
      b = OpenBackend(&error);
      if (b == nullptr) {
        q.result = Failure(in, q.op, OpFailure{"", "", error});
        continue;
      }
    }
    if (!q.args.IsNil() && !q.args.IsList()) {
      q.result =
          Failure(in, q.op, OpFailure{"", "", ":args must be a list, got " + q.args.Brief()});
      continue;
    }
    if (spec->mode != OpMode::kWrite)
      Commit(grouped_on, pending, view, batch);  // it sees the writes before it
    auto call = std::make_unique<OpCall>(
        in, *spec, q.args.IsNil() ? std::vector<Value>{} : q.args.Items(), b, &view);
    if (std::optional<IoResult> now = Plan(*call)) {
      q.result = std::move(*now);
      continue;
    }
    grouped_on = b;
    pending.push_back(Pending{i, std::move(call)});
  }
  Commit(grouped_on, pending, view, batch);
}

backend::Backend* PersistService::OpenBackend(std::string* error) {
  if (backend_ && read_only_) {
    // A reader beside a writer: every op sees the writer's latest commits.
    Status s = backend_->CatchUp();
    if (!s.ok()) {
      *error = "cannot follow the store at " + backend::LocationForMessages(location_) + ": " +
               s.ToString();
      return nullptr;
    }
  }
  if (backend_) return backend_.get();
  backend::OpenOptions opts;
  opts.read_only = read_only_;
  SyncMode mode;
  if (!ParseSyncMode(sync_mode_, &mode)) {
    *error = "unknown sync mode \"" + sync_mode_ + "\" (use always, batch or never)";
    return nullptr;
  }
  opts.sync = mode == SyncMode::kBatch   ? store::SyncMode::kBatch
              : mode == SyncMode::kNever ? store::SyncMode::kNever
                                         : store::SyncMode::kAlways;
  if (!segment_bytes_.empty()) {
    // Small segments make rolls and compactions happen on small data (tests).
    char* end = nullptr;
    errno = 0;
    unsigned long long n = std::strtoull(segment_bytes_.c_str(), &end, 10);
    if (errno != 0 || *end != '\0' ||
        !std::isdigit(static_cast<unsigned char>(segment_bytes_[0]))) {
      *error = "SX_PERSIST_SEGMENT_BYTES: \"" + segment_bytes_ + "\" is not a number of bytes";
      return nullptr;
    }
    opts.segment_bytes = n;
  }
  // Whatever recovery cuts off (a torn tail) is said, never silent; damage
  // makes the open fail and is in the error.
  opts.on_recovery_problem = [dir = location_](const store::RecoveryNote& note) {
    if (note.torn_tail) {
      std::fprintf(stderr, "sx: store %s: cut off at open: %s\n", dir.c_str(),
                   note.ToString().c_str());
    }
  };
  Status s = backend::OpenBackend(location_, opts, &backend_);
  if (!s.ok()) {
    *error =
        "cannot open the store at " + backend::LocationForMessages(location_) + ": " + s.ToString();
    backend_.reset();
    return nullptr;
  }
  parks_ = backend_->SetSocketWaiter(
      [this](int fd, short events, int timeout_ms) { WaitOnSocket(fd, events, timeout_ms); });
  return backend_.get();
}

void PersistService::Close() {
  Drain();
  backend_.reset();
  parks_ = false;
}

}  // namespace sx::host