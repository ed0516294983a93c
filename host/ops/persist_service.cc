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
// resumes the fiber; when the work ends, each request gets its answer.
// Requests that come while the work is parked wait, in order, and go
// together as the next group (one group commit), unless the parked group is
// held up (kHeldUpNs): then they go on a second lane, a fiber and a peer
// handle of the engine with a connection of its own. A round of appends
// may also go as two groups on lane 0's handle, the second sent while the
// first is on the server (Overlapping, Backend::MayJoin), so that the
// tasks of one half run while the server works on the other. A persist/wait that
// may block goes on neither: the wait lane, a third fiber and handle,
// serves all of them together (ServeWaits), so no wait holds up a write.
// Served outside the fibers (HandleOp, a tool), the waiter polls, and the
// calls block as they always did.
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
#include <set>
#include <string>
#include <unordered_set>
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

// A group in flight longer than this is held up (a lock another session
// holds, persist/wait, a slow server): the next group goes on the other
// lane instead of waiting for it. Well above a commit's round trip, so
// that groups form as they always did while the server keeps up.
constexpr int64_t kHeldUpNs = 50'000'000;

// A round of at least twice this many requests goes as two groups when
// the service sends two at once (Overlapping).
constexpr size_t kHalfGroup = 16;

// The longest the wait lane waits before it looks at its waits again.
constexpr int64_t kWaitSliceMs = 100;

// How long after a peer could not open (a connection limit, a server
// away) the service keeps to one lane before it tries again.
constexpr int64_t kPeerRetryNs = 30'000'000'000;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
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

// The stream of a persist/append request, or "". (The other appends read
// the stream's last seq as they are planned, which waits for the group on
// the server.)
std::string AppendStream(const IoRequest& q) {
  if (q.op != "persist/append" || !q.args.IsList()) return "";
  std::vector<Value> args = q.args.Items();
  return args.empty() || !args[0].IsString() ? "" : std::string(args[0].View());
}

// Whether `out` and `next` are all persist/appends, and none of `next` to
// a stream one of `out` appends to.
bool Apart(std::span<const IoRequest* const> out, std::span<const IoRequest* const> next) {
  std::set<std::string> taken;
  for (const IoRequest* q : out) {
    std::string stream = AppendStream(*q);
    if (stream.empty()) return false;
    taken.insert(std::move(stream));
  }
  for (const IoRequest* q : next) {
    std::string stream = AppendStream(*q);
    if (stream.empty() || taken.count(stream)) return false;
  }
  return true;
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
  Drain();  // served here, blocking: nothing of this process may be parked
  IoRequest one;
  one.op = std::string(op);
  one.args = args;
  Serve(in, std::span<IoRequest>(&one, 1), 0);
  return one.result;
}

bool PersistService::parked(int lane) const {
  return lanes_[lane].fiber != nullptr && lanes_[lane].fiber->parked();
}

bool PersistService::busy() const {
  if (!waits_.empty()) return true;
  for (int k = 0; k < kLanes; ++k) {
    if (parked(k)) return true;
  }
  return false;
}

void PersistService::HandleBatch(Interpreter& in, std::span<IoRequest> batch) {
  if (backend_ != nullptr && !parks_) {
    Serve(in, batch, 0);  // an engine that answers at once: no fiber needed
    return;
  }
  if ((busy() || !queued_.empty()) && &in != in_)
    Drain();  // another interpreter's work: end it first
  in_ = &in;
  std::vector<size_t> ours;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].result.kind != IoResult::kPass || FindPersistOp(batch[i].op) == nullptr) continue;
    if (TakeWait(batch[i])) {
      batch[i].result = IoResult::Later();  // the poller starts the wait lane
    } else {
      ours.push_back(i);
    }
  }
  if (ours.empty()) return;
  auto requests = [&](const std::vector<size_t>& which) {
    std::vector<const IoRequest*> out;
    for (size_t i : which) out.push_back(&batch[i]);
    return out;
  };
  int lane = queued_.empty() ? FreeLane(requests(ours)) : -1;
  if (lane >= 0) {
    // A large round goes as two groups, the second sent while the first is
    // on the server: the first half's tasks then run (and send their next
    // group) while the server works on the second.
    // Only appends to streams apart: a half that could not go beside the
    // other would wait for it, two groups where one would do.
    std::vector<size_t> rest;
    if (lane == 0 && !parked(1) && ours.size() >= 2 * kHalfGroup && Overlapping()) {
      rest.assign(ours.begin() + static_cast<std::ptrdiff_t>(ours.size() / 2), ours.end());
      std::vector<size_t> first(ours.begin(),
                                ours.end() - static_cast<std::ptrdiff_t>(rest.size()));
      if (Apart(requests(first), requests(rest))) {
        ours = std::move(first);
      } else {
        rest.clear();
      }
    }
    Start(lane, batch, ours);
    if (rest.empty()) return;
    lane = FreeLane(requests(rest));
    if (lane >= 0) {
      Start(lane, batch, rest);
      return;
    }
    ours = std::move(rest);
  }
  for (size_t i : ours) {
    queued_.push_back(batch[i]);
    batch[i].result = IoResult::Later();
  }
}

bool PersistService::GoesBeside(std::span<const IoRequest* const> next) {
  for (const IoRequest* q : next) {
    if (q->op != "persist/append") return false;
  }
  return true;
}

int PersistService::FreeLane(std::span<const IoRequest* const> next) {
  bool p0 = parked(0), p1 = parked(1);
  if (!p0 && !p1) return 0;
  if (p0 && p1) return -1;
  int busy = p0 ? 0 : 1, other = 1 - busy;
  bool on_backend = busy == 0 || lanes_[1].shared;
  if (on_backend && Overlapping() && backend_->MayJoin() && GoesBeside(next)) {
    lanes_[other].shared = other == 1;
    return other;
  }
  if (NowNs() - lanes_[busy].started_ns < kHeldUpNs) return -1;
  if (other == 1 && !PeerMayOpen(1)) return -1;
  lanes_[other].shared = false;
  return other;
}

bool PersistService::Overlapping() const {
  if (backend_ == nullptr) return false;
  switch (backend_->overlap()) {
    case backend::Backend::Overlap::kOff:
      return false;
    case backend::Backend::Overlap::kAuto:
      return pace_.two();
    case backend::Backend::Overlap::kOn:
      break;
  }
  return true;
}

int PersistService::InsideLane() const {
  for (int k = 0; k < kLanes; ++k) {
    if (lanes_[k].fiber != nullptr && lanes_[k].fiber->inside()) return k;
  }
  return 0;
}

bool PersistService::PeerMayOpen(int lane) const {
  const Peer& peer = peers_[lane];
  return peer.handle != nullptr || (backend_ != nullptr && parks_ && NowNs() >= peer.retry_ns);
}

void PersistService::Start(int lane, std::span<IoRequest> batch, const std::vector<size_t>& which) {
  Lane& l = lanes_[lane];
  l.work.clear();
  for (size_t i : which) l.work.push_back(batch[i]);
  bool ended = StartWork(lane);
  if (ended && !l.give_back) {
    for (size_t k = 0; k < which.size(); ++k) batch[which[k]].result = std::move(l.work[k].result);
    l.work.clear();
    return;
  }
  if (ended) GiveBack(lane);  // they wait for the parked lane
  for (size_t i : which) batch[i].result = IoResult::Later();
}

bool PersistService::StartWork(int lane) {
  Lane& l = lanes_[lane];
  if (!l.fiber) l.fiber = std::make_unique<HostFiber>();
  l.started_ns = NowNs();
  return l.fiber->Start([this, lane] {
    if (lane == 1 && !lanes_[1].shared && !OpenPeer(1)) {
      lanes_[1].give_back = true;
      return;
    }
    Serve(*in_, lanes_[lane].work, lane);
  });
}

bool PersistService::OpenPeer(int lane) {
  Peer& peer = peers_[lane];
  if (peer.handle) return true;
  Status s = backend_->OpenPeer(
      [this, lane](int fd, short events, int timeout_ms) {
        WaitOnSocket(lane, fd, events, timeout_ms);
      },
      &peer.handle);
  if (s.ok()) return true;
  peer.handle.reset();
  peer.retry_ns = NowNs() + kPeerRetryNs;
  return false;
}

void PersistService::GiveBack(int lane) {
  Lane& l = lanes_[lane];
  l.give_back = false;
  queued_.insert(queued_.begin(), std::make_move_iterator(l.work.begin()),
                 std::make_move_iterator(l.work.end()));
  l.work.clear();
}

bool PersistService::TakeWait(const IoRequest& q) {
  if (q.op != "persist/wait" || read_only_ || !PeerMayOpen(kWaitLane)) return false;
  // Only a wait that may block: the others (a nil token, no time, bad
  // arguments and their errors) are answered at once on the lanes.
  if (!q.args.IsList()) return false;
  std::vector<Value> args = q.args.Items();
  if (args.size() != 2 || !args[0].IsInt() || !args[1].IsInt()) return false;
  int64_t token = args[0].AsInt(), timeout_ms = args[1].AsInt();
  if (token < 0 || timeout_ms <= 0 || timeout_ms > kMaxWaitMs) return false;
  waits_.push_back(Waiting{q, static_cast<uint64_t>(token), NowNs() + timeout_ms * 1000000});
  return true;
}

void PersistService::RunWaits(bool start) {
  Lane& l = lanes_[kWaitLane];
  bool ended = Run(kWaitLane, [&] {
    if (!start) return l.fiber->Resume();
    if (!l.fiber) l.fiber = std::make_unique<HostFiber>();
    l.started_ns = NowNs();
    return l.fiber->Start([this] { ServeWaits(); });
  });
  std::vector<std::pair<uint64_t, IoResult>> answers;
  answers.swap(wait_answers_);
  for (auto& [token, result] : answers) in_->Answer(token, std::move(result));
  if (ended && l.give_back) {
    l.give_back = false;
    std::vector<IoRequest> back;
    for (Waiting& w : waits_) back.push_back(std::move(w.q));
    waits_.clear();
    Enqueue(std::move(back));  // they wait on lanes 0 and 1, as before the wait lane
  }
}

void PersistService::ServeWaits() {
  if (!OpenPeer(kWaitLane)) {
    lanes_[kWaitLane].give_back = true;
    return;
  }
  backend::Backend* b = peers_[kWaitLane].handle.get();
  auto answer = [&](const Waiting& w, const Status& s, uint64_t position, bool blocking) {
    if (!s.ok()) {
      wait_answers_.emplace_back(w.q.token, Failure(*in_, w.q.op, OpFailure{"", "", s.ToString()}));
      return;
    }
    std::pair<std::string, Value> e[] = {{"position", in_->Int(static_cast<int64_t>(position))},
                                         {"blocking", in_->Bool(blocking)}};
    wait_answers_.emplace_back(w.q.token, IoResult::Served(in_->Dict(e)));
  };
  uint64_t position = 0;
  Status s = b->CommitPosition(&position);  // may park: waits_ may grow meanwhile
  bool blocking = b->SeesOtherWriters();
  for (;;) {
    int64_t now = NowNs(), next = -1;  // the earliest deadline of the waits left
    std::vector<Waiting> left;
    for (Waiting& w : waits_) {
      if (s.ok() && blocking && position == w.token && now < w.deadline_ns) {
        next = next < 0 ? w.deadline_ns : std::min(next, w.deadline_ns);
        left.push_back(std::move(w));
      } else {
        answer(w, s, position, blocking);
      }
    }
    waits_.swap(left);
    if (waits_.empty()) return;
    // In slices, so that a wait that comes meanwhile, with a nearer
    // deadline or a token already passed, is looked at soon. The wait
    // reads the position again as it starts and as it ends.
    int64_t ms = std::clamp<int64_t>((next - now + 999999) / 1000000, 1, kWaitSliceMs);
    s = b->WaitForCommit(position, static_cast<int>(ms), &position);
  }
}

void PersistService::Enqueue(std::vector<IoRequest> requests) {
  if (requests.empty()) return;
  queued_.insert(queued_.end(), std::make_move_iterator(requests.begin()),
                 std::make_move_iterator(requests.end()));
  // A lane that is parked takes them when its group ends; with none, lane 0
  // takes them now.
  if (!parked(0) && !parked(1)) Settle(0, TakeQueued(0));
}

void PersistService::WaitOnSocket(int lane, int fd, short events, int timeout_ms) {
  Lane& l = lanes_[lane];
  if (l.fiber != nullptr && l.fiber->inside()) {
    l.park_fd = fd;
    l.park_events = events;
    l.park_deadline_ns = timeout_ms < 0 ? -1 : NowNs() + int64_t{timeout_ms} * 1000000;
    l.fiber->Park();
    l.park_fd = -1;
    return;
  }
  pollfd p{fd, events, 0};
  poll(&p, 1, timeout_ms);
}

void PersistService::Poll(int64_t timeout_ns) {
  // A call with tasks ready to run comes before they run (timeout 0): the
  // queue held for them waits through one such call.
  if (hold_ > 0 && (timeout_ns != 0 || --hold_ == 0)) hold_ = 0;
  if (hold_ == 0 && !queued_.empty() && !parked(0) && !parked(1)) Settle(0, TakeQueued(0));
  if (!waits_.empty() && !parked(kWaitLane)) RunWaits(/*start=*/true);
  pollfd p[kLanes];
  int lane_of[kLanes];
  int n = 0;
  int64_t wait = timeout_ns, now = NowNs();
  auto until = [&](int64_t deadline_ns) {
    int64_t left = std::max<int64_t>(0, deadline_ns - now);
    wait = wait < 0 ? left : std::min(wait, left);
  };
  for (int k = 0; k < kLanes; ++k) {
    if (!parked(k)) continue;
    const Lane& l = lanes_[k];
    p[n] = pollfd{l.park_fd, l.park_events, 0};  // fd -1: the time alone
    lane_of[n++] = k;
    if (l.park_deadline_ns >= 0) until(l.park_deadline_ns);
  }
  if (n == 0) return;
  // Queued requests move to the other lane once the one parked is held up.
  if (parked(0) != parked(1) && !queued_.empty() && (parked(1) || PeerMayOpen(1))) {
    until(lanes_[parked(0) ? 0 : 1].started_ns + kHeldUpNs);
  }
  timespec ts{static_cast<time_t>(wait / 1000000000), static_cast<long>(wait % 1000000000)};
  int ready = ppoll(p, n, wait < 0 ? nullptr : &ts, nullptr);
  // A poll that fails (but for a signal) is left to the engine to find out.
  bool failed = ready < 0 && errno != EINTR;
  now = NowNs();
  for (int j = 0; j < n; ++j) {
    const Lane& l = lanes_[lane_of[j]];
    bool due =
        p[j].revents != 0 || failed || (l.park_deadline_ns >= 0 && now >= l.park_deadline_ns);
    if (!due) continue;
    if (lane_of[j] == kWaitLane) {
      RunWaits(/*start=*/false);
    } else {
      Continue(lane_of[j]);
    }
  }
  if (queued_.empty() || hold_ > 0) return;
  std::vector<const IoRequest*> next;
  for (const IoRequest& q : queued_) next.push_back(&q);
  int lane = FreeLane(next);
  if (lane >= 0) Settle(lane, TakeQueued(lane));
  // A peer that could not open gave its requests back: lane 0 takes them
  // if it is free, or when its group ends.
  if (!queued_.empty() && !busy()) Settle(0, TakeQueued(0));
}

void PersistService::Continue(int lane) {
  Lane& l = lanes_[lane];
  Settle(lane, Run(lane, [&] { return l.fiber->Resume(); }));
}

bool PersistService::TakeQueued(int lane) {
  lanes_[lane].work.swap(queued_);
  return Run(lane, [&] { return StartWork(lane); });
}

template <typename Step>
bool PersistService::Run(int lane, Step step) {
  // Out of memory ends the work: the requests it had not answered fail, and
  // none is served twice.
  try {
    return step();
  } catch (std::bad_alloc&) {
    for (IoRequest& q : lanes_[lane].work) {
      if (q.result.kind == IoResult::kPass) q.result = IoResult::Failed("out of memory");
    }
    return true;
  }
}

void PersistService::Settle(int lane, bool ended) {
  for (; ended; ended = TakeQueued(lane)) {
    if (lanes_[lane].give_back) {
      GiveBack(lane);  // a lane that is free takes them (Poll)
      return;
    }
    std::vector<IoRequest> done;
    done.swap(lanes_[lane].work);
    for (IoRequest& q : done) in_->Answer(q.token, std::move(q.result));
    pace_.Answered(done.size(), NowNs());
    if (queued_.empty()) return;
    if (!Overlapping() && !parked(1 - lane)) {
      hold_ = 2;  // the poller starts them, with what the answered tasks send next
      return;
    }
    // Lane 1 went beside lane 0's group on its handle; what is queued may
    // not (a long wait would hold that handle): the poller picks a lane.
    if (lanes_[lane].shared) {
      lanes_[lane].shared = false;
      return;
    }
  }
}

void PersistService::Drain() {
  // Every parked lane is continued as its socket gets ready: a lane that
  // holds a lock the other waits for on the server must go on first.
  while (busy() || !queued_.empty()) Poll(-1);
}

void PersistService::Serve(Interpreter& in, std::span<IoRequest> batch, int lane) {
  std::vector<Pending> pending;
  RoundView view;
  backend::Backend* grouped_on = nullptr;
  ReadLastSeqs(batch, lane, &view);
  for (size_t i = 0; i < batch.size(); ++i) {
    IoRequest& q = batch[i];
    const OpSpec* spec = q.result.kind == IoResult::kPass ? FindPersistOp(q.op) : nullptr;
    if (spec == nullptr) continue;
    backend::Backend* b = nullptr;
    if (spec->mode != OpMode::kPure) {
      std::string error;
      b = LaneBackend(lane, &error);
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

void PersistService::ReadLastSeqs(std::span<IoRequest> batch, int lane, RoundView* view) {
  // The appends that check or take a stream's last seq as they are planned.
  std::vector<std::string> streams;
  std::unordered_set<std::string> seen;
  for (const IoRequest& q : batch) {
    if (q.result.kind != IoResult::kPass || !q.args.IsList()) continue;
    if (q.op != "persist/append-expect" && q.op != "persist/append-batch" &&
        q.op != "persist/append-next") {
      continue;
    }
    std::vector<Value> args = q.args.Items();
    if (args.empty() || !args[0].IsString()) continue;
    std::string stream = args[0].AsString();
    if (seen.insert(stream).second) streams.push_back(std::move(stream));
  }
  if (streams.size() < 2) return;  // one read either way
  std::string error;
  backend::Backend* b = LaneBackend(lane, &error);
  std::vector<uint64_t> seqs;
  // On a failure each op reads its own, and answers its own error.
  if (b == nullptr || !b->LastSeqs(streams, &seqs).ok()) return;
  for (size_t i = 0; i < streams.size(); ++i) view->last_seq[streams[i]] = seqs[i];
}

backend::Backend* PersistService::LaneBackend(int lane, std::string* error) {
  return lane == 0 || lanes_[lane].shared ? OpenBackend(error) : peers_[lane].handle.get();
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
  // Lanes 0 and 1 may both run on this handle (Backend::MayJoin): the one
  // running parks.
  parks_ = backend_->SetSocketWaiter([this](int fd, short events, int timeout_ms) {
    WaitOnSocket(InsideLane(), fd, events, timeout_ms);
  });
  return backend_.get();
}

void PersistService::Close() {
  Drain();
  for (Peer& peer : peers_) peer = Peer();
  backend_.reset();
  parks_ = false;
}

}  // namespace sx::host