// machine.h — the CEK machine that runs compiled code (node.h).
//
// The machine (machine.cc) evaluates Nodes with three registers — control
// (the node), environment, and the continuation — where the continuation is
// a stack of Frames held as data in a Task (task.h). Because the
// continuation is data, `perform` suspends by simply returning from Run(), and
// Resume() continues the loop where it stopped; the C++ stack is never part
// of an SX computation.
//
// Calls in tail position push nothing. Every other sub-evaluation pushes one
// Frame, and the frame count is bounded by Limits::max_frames: deep non-tail
// recursion ends in a catchable SX error, never a C++ stack overflow.
//
// Natives that take SX functions (map, filter, reduce, ...) are machine
// operations with frames of their own, so callbacks may perform too. A native
// written in C++ that calls back into SX (declared "calls back") runs on a
// pooled Boost.Context fiber instead (machine_fibers.cc): when its callback
// performs, the fiber parks with the native's C++ frame intact, a kFiberWait
// frame on the calling task stands for it, and the suspension reaches the
// host like any other. Natives that do not call back run on the normal stack.
//
// Tasks (tasks.cc): `spawn` makes a Task with an id; the machine keeps the
// table of live tasks, a ready queue, sleepers and waiters, and parks each
// suspension either on a task op (await, sleep, yield) or on host IO, which
// the scheduler (Interpreter::Run) serves in batches and answers by token.
//
// The rest of the machine, by concern: call_cache.cc (how each call node
// runs, recomputed when globals change), backtrace.cc (errors: backtraces,
// unwinding to a guard, the uncaught error's text), load.cc (`load`,
// `import`, `eval` reading source), tracers.cc (the collector's view of
// nodes, frames and tasks), machine_ops.cc (map, filter, ...).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "interp/heap.h"
#include "interp/load.h"
#include "interp/native.h"
#include "interp/node.h"
#include "interp/task.h"
#include "interp/value.h"

namespace sx::interp {

class State;
class MachineLoop;

struct FiberCall;
class FiberPool;

// Natives the machine computes inline when both arguments are small
// integers (stored in the Native object's `flags`; 0 = none). A user who
// rebinds `+` binds a different object, which has no fast op.
enum FastOp : uint16_t {
  kFastNone = 0,
  kFastAdd,
  kFastSub,
  kFastMul,
  kFastLt,
  kFastGt,
  kFastLe,
  kFastGe,
  kFastEq,
};

// Machine operations: natives whose work involves calling SX functions.
enum class MachineOp : uint32_t {
  kNone = 0,
  kMap,
  kFilter,
  kReduce,
  kForEach,
  kSome,
  kEvery,
  kApply,
  kSortBy,
  kUpdate,
  kEval,    // runs its forms at top level (a kToplevel frame)
  kCallCC,  // reserved
  // Natives that may suspend the calling task (see ApplySuspending).
  kFiberNative,  // a C++ native that calls back into SX: runs on a fiber
  kAwait,
  kSleep,
  kYield,
};

class Machine {
 public:
  explicit Machine(State& S);
  ~Machine();

  // Compiles and runs a sequence of top-level forms (a list) in a new task.
  RunResult RunToplevel(Value forms, Value file);
  // Calls fn with args in a new task.
  RunResult Call(Value fn, const Value* args, size_t n);
  // Continue the suspended task with a value, or by raising `error` into it.
  RunResult Resume(Value v);
  RunResult ResumeError(Value error);
  bool suspended() const { return task_ != nullptr && task_->state == kTaskSuspended; }
  // Requests an interrupt (from a signal handler): the running computation
  // raises "interrupted" at its next safe point.
  void Interrupt() { interrupt_ = 1; }

  void MarkRoots(Heap& h);

  // --- callbacks from C++ (machine_fibers.cc) ---
  // Calls fn from inside a native. On a fiber native's own fiber a `perform`
  // in the callee parks the fiber until the host resumes; anywhere else the
  // callee must finish without suspending (else an error result).
  RunResult CallBack(Value fn, const Value* args, size_t n);
  // Unwinds and frees every parked fiber (before the State goes away).
  void DropFibers();
  void RunFiberJob(FiberCall* fc);

  // --- tasks and scheduling (tasks.cc) ---
  static uint64_t TokenOf(const Task* t) { return (uint64_t{t->aux} << 32) | t->gen; }
  // The token of the current suspended computation, 0 if none.
  uint64_t current_token() const { return suspended() ? TokenOf(task_) : 0; }
  Task* Spawn(Value thunk);
  void Cancel(Task* t);
  // Takes the current (suspended) computation as the scheduler's main task
  // and parks it; its IO wait, if any, goes to *io.
  void AdoptMain(Value request, std::vector<IoWait>* io);
  // Runs every ready task until it suspends, blocks or finishes.
  void RunReady(std::vector<IoWait>* io);
  // Continues the task a token names; false (and counted) when the token is
  // stale: already answered, cancelled, or never issued.
  bool Answer(uint64_t token, Value v, bool error);
  bool TokenCurrent(uint64_t token) const;
  bool has_ready() const { return !ready_.empty(); }
  bool has_sleepers() const { return !sleepers_.empty(); }
  int64_t next_wake_ns() const;
  void WakeSleepers(int64_t now_ns);
  // Nothing can run: raises a deadlock error into the main task. False when
  // the main task is not blocked (nothing to do).
  bool BreakDeadlock();
  // An interrupt (Interrupt) arrived while the main task sleeps or awaits
  // another task, where no safe point would ever see it: raises
  // "interrupted" into the main task at once. False when there is none.
  bool InterruptWaitingMain();
  // Takes a pending interrupt (true once per Interrupt).
  bool TakeInterrupt() {
    if (!interrupt_) return false;
    interrupt_ = 0;
    return true;
  }
  // The main task finished (*r is how): true once, then forgets it.
  bool TakeMainResult(RunResult* r);
  Value LiveTasks();
  uint64_t stale_resumes() const { return stale_resumes_; }
  void CountStale() { ++stale_resumes_; }
  // Where a round's batch of n requests starts (0 <= offset < n): varied
  // from round to round by a fixed pseudo-random sequence, so that when the
  // requests of one round conflict no task is always first. Not a fixed
  // step: a fixed step could keep in time with tasks that alternate a read
  // round and a write round, and favour the same ones forever.
  size_t RoundOffset(size_t n) {
    round_rng_ ^= round_rng_ << 13;
    round_rng_ ^= round_rng_ >> 7;
    round_rng_ ^= round_rng_ << 17;
    return static_cast<size_t>(round_rng_ % n);
  }
  static int64_t NowNs();

  // The text of an uncaught error: message, then "  at FILE:LINE:COL" lines.
  std::string FormatError(Value err);
  // The error "out of memory", made when the machine was: raising it needs
  // no allocation. Tells the heap an allocation failed (see
  // Heap::OnAllocationFailure). One error value serves every raise; its
  // trace is the latest one's.
  Value OutOfMemory();

  // Registers machine operations (map, filter, ...) as globals and marks the
  // builtin arithmetic natives with their FastOp.
  void InstallOps();

 private:
  friend class MachineLoop;
  enum class Entry { kEval, kReturn, kApply, kThrow };

  RunResult Run(Entry entry, Value val, Node* node, Env* env);
  void Start(Task* t);
  RunResult Finish(RunResult r);
  void PopTask();
  Task* NewTask();
  Env* NewEnv(Env* parent, uint32_t size);
  [[gnu::always_inline]] inline Env* NewFrame(Closure* c);
  template <class Args>
  [[gnu::always_inline]] inline Env* EnterFrame(Closure* c, size_t argc, bool tail, Env* env,
                                                Args args);
  [[gnu::always_inline]] inline void EnterBody(Closure* c, Node*& node, Env* env);
  void SafePoint(Node* node, Env* env);
  void CollectAt(Node* node, Env* env);

  // The loop's steps (machine.cc), one per node kind, call mode or frame
  // kind that takes more than a line or two; the hot ones are inlined into
  // Run. How a call's application ended: a value (in `val`), another call
  // set up at vals[op_base_], or a suspension (the request in `val`).
  enum class Applied : uint8_t { kValue, kCall, kSuspended };
  [[gnu::always_inline]] inline bool EvalIf(MachineLoop& L, Node*& node, Env* env, Value& val);
  [[gnu::always_inline]] inline Value MakeClosure(Node* node, Env* env);
  bool BecameMacroCall(Node* node);
  [[gnu::always_inline]] inline void CallDirect(MachineLoop& L, Node*& node, Env*& env);
  [[gnu::always_inline]] inline void ReadyCall(Node* node, bool& tail_call);
  [[gnu::always_inline]] inline size_t PushOperands(MachineLoop& L, Node* node, Env* env);
  [[gnu::always_inline]] inline Node* StartArith2(MachineLoop& L, Node* node, Env* env);
  [[gnu::always_inline]] inline bool StartCall(MachineLoop& L, Node*& node, Env* env, size_t& base,
                                               bool& tail_call);
  size_t StartMacroExpand(MachineLoop& L, Node* node, Env* env);
  void StartImport(MachineLoop& L, Node* node, Env* env);
  [[gnu::always_inline]] inline void ApplyClosure(MachineLoop& L, Closure* c, size_t base,
                                                  bool reuse_frame, bool handover, Node*& node,
                                                  Env*& env);
  [[gnu::always_inline]] inline Applied ApplyNative(MachineLoop& L, Native* nat, size_t base,
                                                    Env* env, Value& val);
  Value ApplyOther(MachineLoop& L, Value fn, size_t base);
  [[gnu::always_inline]] inline void LeaveFrame(Env* env);
  [[gnu::always_inline]] inline bool ReturnCallArg(MachineLoop& L, Frame& f, Value val, Node*& node,
                                                   Env*& env, size_t& base, bool& tail_call);
  [[gnu::always_inline]] inline bool ReturnArith2(MachineLoop& L, Frame& f, Value& val, Node*& node,
                                                  Env*& env);
  Value MakeDictLit(MachineLoop& L, const Frame& f);
  [[gnu::always_inline]] inline Node* NextKid(MachineLoop& L, Frame& f, Env*& env);
  void ReturnSetLocal(MachineLoop& L, const Frame& f, Value val);
  void ReturnSetGlobal(MachineLoop& L, const Frame& f, Value val);
  void ReturnDefGlobal(MachineLoop& L, const Frame& f, Value val);
  Node* ReturnMacroExpand(MachineLoop& L, const Frame& f, Value val);
  Node* ReturnCase(MachineLoop& L, const Frame& f, Value val);
  void ReturnLoadPath(MachineLoop& L, const Frame& f, Value path, Env* env);
  Env* NextToplevelForm(Frame& f);
  Value ReturnFiberWait(MachineLoop& L, const Frame& f, bool error, Value v, bool* suspended);
  [[gnu::always_inline]] inline bool Recover(MachineLoop& L, Value err, Node*& node, Env*& env);

  bool Unwind(MachineLoop& L, Value err, Node** node, Env** env);
  // The backtrace of an error raised now: "FILE:LINE:COL[ in NAME]" per
  // activation, innermost first.
  Value Backtrace(MachineLoop& L, Env* env);
  // Machine operations. ApplyOp returns true with *val set when the op is
  // finished, or false after setting up a call at vals[op_base_]. `env` is
  // the frame of the activation applying the op; the op's frame keeps it.
  bool ApplyOp(MachineLoop& L, Native* nat, size_t base, Env* env, Value* val);
  // A callback returned to an op's frame: true when the frame is finished
  // (*val is its result), false after setting up the next call.
  bool OpReturn(MachineLoop& L, Value* val);
  // Natives that may suspend: kFinished (*val is the result), kThrew (*val
  // is the raised value) or kSuspended (*val is the request).
  enum class Susp { kFinished, kThrew, kSuspended };
  Susp ApplySuspending(MachineLoop& L, Native* nat, size_t base, Value* val);
  Susp StartFiber(Native* nat, const Value* args, size_t n, Value* out, uint32_t* id);
  Susp EnterFiber(FiberCall* fc, Value* out);
  Susp ResumeFiber(uint32_t id, bool error, Value v, Value* out);
  void CancelFibers(Task* t);
  Susp TaskOpApply(Native* nat, const Value* args, size_t n, Value* out);
  // After a run of a scheduled task: file it by how the run ended.
  void Park(Task* t, const RunResult& r, std::vector<IoWait>* io);
  void FinishTask(Task* t, Value v, bool failed);
  void MakeReady(Task* t, ResumeKind kind, Value v);
  RunResult Step(Task* t);
  Task* FindTask(uint32_t id) const;
  void InstallTaskOps();
  Value TaskRequest(int op, Value arg);
  int TaskOpOf(Value request) const;  // 0 await, 1 sleep, 2 yield, -1 not a task op
  void LoadFile(Node* at, Value path, Value* forms, Value* file);
  bool Import(Node* at, Value name, Value* forms, Value* file);
  // The forms `eval` runs: a string's, read as the file "<eval>", or the form.
  Value EvalForms(Value x);

  State& S_;
  Task* task_ = nullptr;
  std::vector<Task*> task_stack_;  // runs suspended beneath a nested run
  std::set<std::string, std::less<>> imported_;
  volatile int interrupt_ = 0;
  Node* cur_call_ = nullptr;
  // The last call from code outside the library into a library closure
  // (a kDirectLib call, or any call through do_apply), the task it ran in
  // and the frame count then: a backtrace shows it where the library's
  // frames end, when it still fits there.
  Node* lib_entry_ = nullptr;
  Task* lib_entry_task_ = nullptr;
  size_t lib_entry_depth_ = 0;
  [[gnu::noinline]] void NoteLibEntry(Node* call, size_t depth) {
    lib_entry_ = call;
    lib_entry_task_ = task_;
    lib_entry_depth_ = depth;
  }
  Value oom_error_ = Value::Nil();
  // A new task made current for an entry point (RunToplevel, Call); nullptr
  // when memory ran out.
  Task* StartTask();
  Node* reg_node_ = nullptr;  // registers, visible to the collector
  Env* reg_env_ = nullptr;
  size_t op_base_ = 0;
  // reduce set up the call at vals[op_base_] with its accumulator as the
  // first argument, and keeps no other reference to it (kEnvOwnsAcc).
  bool acc_handover_ = false;

  // Fibers (machine_fibers.cc).
  std::unique_ptr<FiberPool> pool_;
  std::unordered_map<uint32_t, std::unique_ptr<FiberCall>> fiber_calls_;
  uint32_t next_fiber_id_ = 1;
  FiberCall* current_fc_ = nullptr;

  // Tasks (tasks.cc).
  std::unordered_map<uint32_t, Task*> live_;  // spawned, not finished
  std::deque<Task*> ready_;
  std::vector<Task*> sleepers_;
  Task* main_ = nullptr;  // adopted by the scheduler, until it finishes
  bool main_finished_ = false;
  RunResult main_result_{RunStatus::kDone, Value::Nil()};
  uint32_t next_task_id_ = 1;
  uint64_t stale_resumes_ = 0;
  uint64_t round_rng_ = 0x9E3779B97F4A7C15ull;  // xorshift64 state, never 0
  Value op_names_[3];  // the :op strings of task/await, task/sleep, task/yield
  Value yield_request_;
  String* op_key_ = nullptr;
  String* args_key_ = nullptr;
};

void RegisterMachineTypes(Heap& heap);

}  // namespace sx::interp
