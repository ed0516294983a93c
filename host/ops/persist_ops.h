// persist_ops.h — the persist/* and blob/* ops: one table declares each op
// once (name, read or write, arguments, docstring, and the code that plans
// and answers it), and PersistService serves them from a Backend
// (host/backend/backend.h) to `perform`.
//
// SX values cross into the engine in the binary value encoding
// (value_codec.h), so a value with no stored form (a function) is refused
// with an error, never stored as nil. The engine is opened on the first
// request that needs it; an open failure (locked directory, corruption) is
// reported to that request, and the next request tries again. The full list
// of ops, their arguments, answers and errors is in docs/persist-ops.md,
// which a test checks against the table.
//
// One path. A request is served as a group of one: a scheduler round of
// many requests is taken in order, the writes of consecutive write ops
// become one WriteBatch each and are committed together (one write, one
// sync), and an op that is not a grouped write first commits the writes
// before it, so it sees them. A single request goes the same way.
//
// Errors reach SX as error values whose message names the op, the stream or
// key, and the cause, and whose data is {:op :stream|:key :cause}. An
// argument of the wrong kind reads
//   persist/append: argument 1 (stream) must be a string, got 42
// Conflicts of the check-then-write ops (append-expect, kv-cas, ...) are
// answers, not errors: {:conflict true :expected e :actual a}.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "host/backend/backend.h"
#include "host/ops/host_fiber.h"
#include "host/ops/pace.h"
#include "sx/sx.h"

namespace sx::host {

struct RoundView;  // op_call.h

struct OpCall;  // one request being served (persist_ops.cc)

// What an argument must be. The host checks every argument of a request
// against its op's declaration before the op runs; the op checks the
// insides (an event's :seq, a write's fields).
enum class ArgKind {
  kString,       // a string (stream names, keys and cids are strings, never keywords)
  kInt,          // an integer
  kList,         // a list
  kStringOrNil,  // a string or nil
  kAny,          // any value (the op checks it)
};

struct ArgSpec {
  const char* name = nullptr;  // nullptr ends the list
  ArgKind kind = ArgKind::kAny;
  bool optional = false;  // optional arguments come last
};

enum class OpMode {
  kRead,        // reads the engine; runs after the round's writes before it commit
  kWrite,       // a WriteBatch that joins the round's group commit
  kWriteAlone,  // changes the store outside a batch (blobs, sync, compaction)
  kPure,        // answers without opening the engine
};

struct OpSpec {
  const char* name;  // "persist/append"
  OpMode mode;
  ArgSpec args[4];
  const char* doc;  // one line: what it answers
  // Checks what the argument kinds do not say and either answers
  // (OpCall::answer) or, for a kWrite op, fills OpCall::batch.
  void (*plan)(OpCall& call);
  // A kWrite op's answer once its batch was committed with `status`.
  Value (*finish)(OpCall& call, const backend::Status& status);

  bool write() const { return mode == OpMode::kWrite || mode == OpMode::kWriteAlone; }
};

// Every op, in the order `persist/ops` lists them.
std::span<const OpSpec> PersistOps();
const OpSpec* FindPersistOp(std::string_view name);
// The argument list as docs/persist-ops.md writes it: "(stream [from [limit]])".
std::string OpSignature(const OpSpec& op);

// The longest persist/wait may block.
constexpr int64_t kMaxWaitMs = 60000;

class PersistService {
 public:
  // location: where the engine is (today the store's directory; see
  // backend::OpenBackend). sync_mode: "always", "batch" or "never"
  // (sx::ParseSyncMode). segment_bytes: the size of new log segments, in
  // decimal; empty for the store's default. Both are checked when the engine
  // is opened. read_only: opened without the lock, refusing writes.
  PersistService(std::string location, std::string sync_mode, std::string segment_bytes = "",
                 bool read_only = false);
  ~PersistService();

  // Registers the batch handler and handle_op with the interpreter.
  void Install(Interpreter& in);

  // Serves one request, or passes (IoResult::Pass) when op is not ours.
  // It blocks until served, after the work in flight (if any) has ended.
  IoResult HandleOp(Interpreter& in, std::string_view op, const Value& args);
  // Serves every request of a scheduler round that is ours, in order. With
  // an engine that waits on a server (Backend::SetSocketWaiter), the work
  // runs on a fiber of the service's own: when it has to wait, the
  // requests are answered later (IoResult::Later) and the interpreter's
  // other tasks run; requests of the rounds meanwhile wait and go together
  // as the next group. When the parked group is held up on the server, they
  // go on a second lane (a fiber and a peer handle, Backend::OpenPeer). A
  // persist/wait that may block goes on the wait lane (TakeWait).
  // Install sets the poller that continues the work.
  void HandleBatch(Interpreter& in, std::span<IoRequest> batch);

  // The engine, opening it if needed. nullptr (and *error set) on failure.
  backend::Backend* OpenBackend(std::string* error);
  // Closes the engine (tests reopen it to simulate a restart), after
  // finishing the work in flight, blocking, and answering its requests.
  void Close();
  const std::string& data_dir() const { return location_; }
  const std::string& sync_mode() const { return sync_mode_; }
  bool read_only() const { return read_only_; }
  bool is_open() const { return backend_ != nullptr; }
  // Work is parked on a lane's fiber, or waits for the wait lane, its
  // requests to be answered later.
  bool busy() const;

 private:
  // A conversation with the engine: lane 0 talks through backend_, the
  // others through their peers_. Each runs its work on a fiber of its own.
  struct Lane {
    std::unique_ptr<HostFiber> fiber;
    std::vector<IoRequest> work;  // the group on the fiber
    int park_fd = -1;             // what the parked work waits for
    short park_events = 0;
    int64_t park_deadline_ns = -1;  // steady clock; -1: none
    int64_t started_ns = 0;         // when its group started (steady clock)
    bool give_back = false;         // ended without serving: its peer did not open
    bool shared = false;            // lane 1 on lane 0's handle (Backend::MayJoin), not its peer
  };
  // Lanes 0 and 1 serve groups; the wait lane serves the persist/waits that
  // may block, through a handle of its own, so that no wait holds up a
  // write (ServeWaits).
  static constexpr int kLanes = 3;
  static constexpr int kWaitLane = 2;
  // A persist/wait on the wait lane: answered once the position passes
  // token, or at its deadline.
  struct Waiting {
    IoRequest q;
    uint64_t token = 0;
    int64_t deadline_ns = 0;  // steady clock
  };

  // Serves the requests that are ours, in order, in the calling context,
  // through lane's handle.
  void Serve(Interpreter& in, std::span<IoRequest> batch, int lane);
  // Reads the last seqs of the streams the batch's appends check as they
  // are planned (append-expect, append-batch, append-next) in one call
  // (Backend::LastSeqs) into view, when there are two or more.
  void ReadLastSeqs(std::span<IoRequest> batch, int lane, RoundView* view);
  // Runs lane's work (in_'s requests) on its fiber; true when it ended
  // without parking.
  bool StartWork(int lane);
  // Gives lane the requests `which` of batch: each is answered now, or later.
  void Start(int lane, std::span<IoRequest> batch, const std::vector<size_t>& which);
  bool parked(int lane) const;
  // The lane the requests `next` may start on now as a group, or -1: with
  // both idle, lane 0; with one parked whose group is on the server on lane
  // 0's handle, and `next` may go beside it there (Backend::MayJoin,
  // GoesBeside), the other, on that handle; with one parked and held up
  // (kHeldUpNs), the other, opening the peer; else none, and requests wait
  // for the parked group to end.
  int FreeLane(std::span<const IoRequest* const> next);
  // Whether `next` are all persist/appends: a group that may go to the
  // server beside another (the handle sends it at once unless it appends
  // to a stream of the group on the server; then it waits for that one).
  static bool GoesBeside(std::span<const IoRequest* const> next);
  // The handle lane's work goes through: backend_ (opened if needed) for
  // lane 0 and a shared lane 1, else the lane's peer.
  backend::Backend* LaneBackend(int lane, std::string* error);
  // The lane whose fiber is running (0 outside the fibers).
  int InsideLane() const;
  // Whether a round of appends goes as two groups now (Backend::overlap;
  // kAuto: as pace_ finds faster).
  bool Overlapping() const;
  // Whether lane (1 or the wait lane) may run: its peer is open, or may be
  // tried (the engine waits on a server, and no try failed in the last
  // kPeerRetryNs).
  bool PeerMayOpen(int lane) const;
  // Opens lane's peer, on lane's fiber so that its connect parks; false
  // when it could not (lanes 0 and 1 then do its work for a while).
  bool OpenPeer(int lane);
  // Puts lane's unserved requests back at the head of the queue.
  void GiveBack(int lane);
  // The poller: continues the parked work whose socket is ready, and moves
  // queued requests to a lane that became free.
  void Poll(int64_t timeout_ns);
  // Resumes lane's parked work.
  void Continue(int lane);
  // Starts the queued requests as lane's next group; true when it ended.
  bool TakeQueued(int lane);
  // Runs a step of lane's work (a start, a resume) and returns whether the
  // work ended; out of memory ends it, failing what it had not answered.
  template <typename Step>
  bool Run(int lane, Step step);
  // When lane's work has ended: answers it, and runs the queued requests
  // on the lane, until a group parks or nothing is queued.
  void Settle(int lane, bool ended);
  // Finishes the work in flight and the queued groups, blocking.
  void Drain();
  // The engines' socket waiter: parks lane's work when it runs on its fiber.
  void WaitOnSocket(int lane, int fd, short events, int timeout_ms);
  // Takes q for the wait lane when it is a persist/wait that may block
  // (an integer token, a timeout above 0) and the wait lane may run.
  bool TakeWait(const IoRequest& q);
  // Starts or resumes the wait lane, then answers what it decided; waits
  // whose handle could not open go to lanes 0 and 1 (Enqueue).
  void RunWaits(bool start);
  // The wait lane's job: looks at the commit position, answers the waits it
  // passed or whose time is up, and waits for a commit, in slices, while
  // any is left.
  void ServeWaits();
  // Queues requests for lanes 0 and 1, starting lane 0 if neither is busy.
  void Enqueue(std::vector<IoRequest> requests);

  std::string location_;
  std::string sync_mode_;
  std::string segment_bytes_;
  bool read_only_ = false;
  std::unique_ptr<backend::Backend> backend_;
  bool parks_ = false;  // the engine waits on a socket through WaitOnSocket
  // Another handle of the engine with a connection of its own, for lane 1
  // or the wait lane (Backend::OpenPeer).
  struct Peer {
    std::unique_ptr<backend::Backend> handle;
    int64_t retry_ns = 0;  // one that did not open: not again before (steady clock)
  };
  Peer peers_[kLanes];  // lane 0's stays empty: it has backend_
  Lane lanes_[kLanes];
  Interpreter* in_ = nullptr;      // whose requests the lanes and queued_ hold
  std::vector<IoRequest> queued_;  // came while every lane was parked: the next group
  // One group at a time: when a group ends with requests queued behind it,
  // they wait for the next requests of the tasks it answered (for the
  // poller's next wait, or its second call without one), so that the two
  // go as one group.
  int hold_ = 0;
  Pace pace_;
  std::vector<Waiting> waits_;                               // the wait lane's
  std::vector<std::pair<uint64_t, IoResult>> wait_answers_;  // decided, not yet given
};

}  // namespace sx::host
