// machine.h — compiled code and the CEK machine that runs it.
//
// Source forms are compiled (compiler.cc) into a tree of Nodes with lexical
// addressing: a local variable is (depth, slot) in a chain of Env frames, one
// frame per function activation (`let` bindings get slots in the enclosing
// function's frame). The machine (machine.cc) evaluates Nodes with three
// registers — control (the node), environment, and the continuation — where
// the continuation is a stack of Frames held as data in a Task. Because the
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
#pragma once

#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <new>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "interp/heap.h"
#include "interp/native.h"
#include "interp/value.h"

namespace sx::interp {

class State;
class MachineLoop;
struct Proto;
struct Scope;

enum class NodeKind : uint8_t {
  kConst,      // value
  kLocal,      // depth, index; value = symbol (for messages)
  kParam,      // as kLocal, for a parameter's slot: always bound, never out of range
  kGlobal,     // value = symbol
  kSetLocal,   // depth, index, a = expr; flags kDefineNode when it is a definition
  kSetGlobal,  // value = symbol, a = expr
  kDefGlobal,  // value = symbol, a = expr
  kDefMacro,   // value = symbol, a = lambda node
  kIf,         // a, b, c
  kSeq,        // kids
  kAnd,        // kids
  kOr,         // kids
  kLambda,     // proto
  kCall,       // kids[0] operator, kids[1..] operands; kMaybeMacro: value = form, extra = Scope*,
               // index = macro depth
  kDictLit,    // value = list of key strings, kids = value expressions
  kGuard,      // a = body, b = handler, index = slot of the error variable
  kReraise,    // depth 0, index = slot holding the error to raise again
  kPerform,    // a = request
  kMacroCall,  // value = original form, extra = Scope*, a = cached expansion,
               // index = macro depth (0 in source; see Limits::max_macro_depth)
  kCase,       // a = key, value = list of key lists (or :else), kids = bodies
  kLoad,       // a = path expression
  kImport,     // value = module name (string)
};

enum NodeFlags : uint16_t {
  kSimpleNode = 1,  // evaluable without frames when every operator is a plain native
  kDefineNode = 2,
  // A call whose head was an unbound global when compiled: if the name is a
  // macro by the time the call first runs, it becomes a kMacroCall.
  kMaybeMacro = 4,
  // A call (or macro call) in tail position: nothing of the caller's
  // activation is needed after it.
  kTailCall = 8,
  // A tail call (assoc acc k v ...) of a function that uses its first
  // parameter, the accumulator, for nothing else (Proto::consumes_acc).
  kAccConsumer = 16,
  // Code read from a library module (the built-in stdlib): backtraces
  // headline the innermost place outside it.
  kLibNode = 32,
};
// Most arguments a call passes straight into a closure's frame.
inline constexpr uint32_t kDirectArgs = 8;

// How the machine evaluates a call, decided by Revalidate and valid while
// Node::epoch equals the global epoch (defining any global moves the epoch
// on, and the mode is recomputed).
enum class CallMode : uint8_t {
  kGeneral = 0,  // operands one by one, with a frame for those that need one
  kSimple,       // Node::eval computes it: kSimpleNode, every operator a plain native
  kDirect,       // a global closure (Node::callee) of fixed arity; simple operands
  // As kDirect, for a call from outside the library of a library closure:
  // the machine notes it (Machine::NoteLibEntry), so an error deep in the
  // library can still name the user's call when it was a tail call.
  kDirectLib,
  kArgsSimple,  // every operand simple, the operator anything
  kArith2,      // (op a b), op a global FastOp native, an operand not simple
};

// How a simple call evaluates (MachineLoop::Operand), chosen by Revalidate.
struct Node;
struct Env;
using SimpleFn = Value (*)(MachineLoop& L, Node* n, Env* env);

struct Node : Obj {
  NodeKind kind;
  uint16_t depth;
  uint32_t index;
  uint32_t line;
  uint32_t col;
  Value value;
  Value file;  // string or nil
  Obj* extra;  // kLambda: Proto; kMacroCall: Scope
  Node* a;
  Node* b;
  Node* c;
  // kCall, valid while `epoch` equals the global epoch (see Revalidate):
  uint32_t epoch;  // when the fields below were computed
  uint8_t mode;    // CallMode
  SimpleFn eval;   // CallMode::kSimple: the evaluator
  Obj* callee;     // CallMode::kDirect: the Closure the operator is bound to
  Proto* fn;       // the function (or top-level form) this code is part of: backtraces name it
  uint32_t nkids;
  Node* kids[1];  // nkids entries
};

// Proto flags (Obj::flags).
enum ProtoFlags : uint16_t {
  kProtoToplevel = 1,  // the code of one top-level form, not a function
};

struct Proto : Obj {
  uint32_t nparams;     // required + optional positional parameters
  uint32_t frame_size;  // slots: parameters, rest, let bindings, internal defines
  bool has_rest;
  // The first parameter is only returned or passed to `assoc` as the dict,
  // in tail position: reduce may hand it a dict to update in place.
  bool consumes_acc;
  Node* body;
  Value name;  // symbol or nil
  Value doc;   // string or nil
  Value file;
  uint32_t line;
};

struct Env : Obj {
  Env* parent;
  Value* slots;  // inline_slots, or after growth (kEnvGrown) the slots of another
                 // Env held in inline_slots[0] (SetSlot)
  uint32_t size;
  Value inline_slots[1];
};

struct Closure : Obj {
  Proto* proto;
  Env* env;
};

struct Macro : Obj {
  Value fn;  // a closure
};

// Compile-time scope: an immutable chain, so a macro call can keep the scope
// it appeared in and compile its expansion later. A boundary link (name ==
// nullptr) marks the start of a function's frame.
struct Scope : Obj {
  Scope* next;
  Symbol* name;
  uint32_t slot;
  Proto* proto;  // boundary links: the function whose frame this is
};

enum class FrameKind : uint8_t {
  kCallArg,  // node = call, i = next operand, base = start of values
  kArith2,   // node = (op a b) with a FastOp native; i = operand being evaluated,
             // x = a's value once known, y = the native
  kIf,
  kSeq,  // i = next kid
  kSetLocal,
  kSetGlobal,
  kDefGlobal,
  kAnd,
  kOr,
  kDictLit,  // like kCallArg
  kGuard,    // base = value-stack height to restore
  kPerform,
  kMacroExpand,
  kCase,
  kLoadPath,   // evaluating the path of `load`
  kToplevel,   // x = remaining forms, y = file name; evaluates forms in order
  kMap,        // x = fn, y = remaining list, base = start of results
  kMap2,       // x = fn, y = remaining lists (a list of lists), base = results
  kFilter,     // x = fn, y = remaining list (current element is car), base = results
  kReduce,     // x = fn, y = remaining list
  kForEach,    // x = fn, y = remaining list
  kSome,       // x = fn, y = remaining list
  kEvery,      // x = fn, y = remaining list
  kSortBy,     // x = original list, base = keys; then sorts
  kUpdate,     // x = dict, y = key
  kBarrier,    // a nested run started by C++ stops here (embedding API)
  kFiberWait,  // i = fiber call id, base = vals base: a native parked on its fiber
};

struct Frame {
  FrameKind kind;
  uint32_t i;
  uint32_t base;
  Node* node;
  Env* env;
  Value x;
  Value y;
};

enum class RunStatus { kDone, kSuspended, kError };

struct RunResult {
  RunStatus status;
  Value value;  // the result, the request, or the raised value
};

// The operand stack and the frame stack: a vector of trivially copyable
// items whose push, pop and truncate stay inline (shrinking is just a size
// change; growth is the one call out of line).
template <class T>
class Stack {
  static_assert(std::is_trivially_copyable_v<T>, "items are moved by realloc");

 public:
  Stack() = default;
  ~Stack() { std::free(data_); }
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T* data() { return data_; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }
  T& operator[](size_t i) { return data_[i]; }
  T& back() { return data_[size_ - 1]; }
  [[gnu::always_inline]] void push_back(const T& v) {
    if (size_ == cap_) Grow();
    data_[size_++] = v;
  }
  void pop_back() { --size_; }
  // Only ever shrinks (callers truncate back to a saved height).
  void resize(size_t n) { size_ = n; }
  void clear() { size_ = 0; }
  void reserve(size_t n) {
    while (cap_ < n) Grow();
  }

 private:
  [[gnu::noinline]] void Grow() {
    size_t cap = cap_ == 0 ? 64 : cap_ * 2;
    auto* data = static_cast<T*>(std::realloc(static_cast<void*>(data_), cap * sizeof(T)));
    if (data == nullptr) throw std::bad_alloc();
    data_ = data;
    cap_ = cap;
  }
  T* data_ = nullptr;
  size_t size_ = 0;
  size_t cap_ = 0;
};

using ValueStack = Stack<Value>;
using FrameStack = Stack<Frame>;

// A computation: its continuation (frames) and operand stack. Suspension
// keeps both; Resume continues them. `aux` is the task id (0: the main
// computation, or a nested run started from C++). The same object is the SX
// task value that `spawn` returns (`#<task N>`).
struct Task : Obj {
  FrameStack* frames;
  ValueStack* vals;
  uint8_t state;        // TaskState
  uint8_t sched;        // SchedState (tasks.cc)
  uint8_t resume_kind;  // ResumeKind: how a ready task continues
  uint8_t task_op;      // TaskOp parked on, set by await/sleep/yield
  bool failed;          // done: result is the raised value
  uint32_t gen;         // bumped by every run; a resume token names one generation
  Value result;         // done: the value, or the raised value
  Value request;        // waiting on IO: the request
  Value resume;         // ready: the value (or error) to continue with
  Value op_arg;         // the task op's argument (awaited task, ms)
  Node* at;             // suspended: the perform or call it stopped at (errors are placed there)
  int64_t wake_ns;      // sleeping: steady-clock deadline
  std::vector<Task*>* waiters;  // tasks blocked awaiting this one (lazily made)
};

enum TaskState : uint8_t { kTaskReady = 0, kTaskRunning, kTaskSuspended, kTaskDone };

// Where a task stands with the scheduler.
enum SchedState : uint8_t {
  kSchedNone = 0,  // not scheduled (a nested run, or main before Run adopts it)
  kSchedReady,     // in the ready queue
  kSchedIo,        // suspended on a host request
  kSchedBlocked,   // awaiting another task
  kSchedSleeping,
  kSchedDone,
};
enum ResumeKind : uint8_t { kResumeStart = 0, kResumeValue, kResumeError };
enum TaskOp : uint8_t { kTaskOpNone = 0, kTaskOpAwait, kTaskOpSleep, kTaskOpYield };

// A host request a task is suspended on, with the token that answers it.
struct IoWait {
  Task* task;
  uint64_t token;
  Value request;
};

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
  // Abandon a suspended computation.
  void Abort();
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
  bool main_pending() const { return main_ != nullptr; }
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
  [[gnu::always_inline]] inline Env* EnterClosure(Closure* c, const Value* args, size_t argc,
                                                  bool tail, Env* env);
  [[gnu::always_inline]] inline Env* NewFrame(Closure* c);
  void SafePoint(Node* node, Env* env);

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

// Compiles one top-level form; line and col are where it was read (an atom
// carries no place of its own). Raises an SX error (ThrowError) on a syntax
// error in a special form.
Node* CompileToplevel(State& S, Value form, Value file, Proto** toplevel_proto, uint32_t line = 0,
                      uint32_t col = 0);
// Library modules are read under this prefix ("<stdlib>/persist.sx").
inline constexpr std::string_view kLibraryPrefix = "<stdlib>/";
inline bool IsLibraryFile(Value file) {
  return IsString(file) && StringView(file).substr(0, kLibraryPrefix.size()) == kLibraryPrefix;
}
// Reads every form of a source text (positions recorded for the compiler).
// Raises an SX error naming file:line:col on bad input.
Value ParseSource(State& S, std::string_view text, const std::string& file);
// Reads a source file whole. Only a regular file is read: a directory, a
// device (/dev/zero never ends) or a pipe is refused without blocking.
// False, with the reason in *why ("it is a directory", "not a regular file",
// or the OS's), when it cannot.
bool ReadSourceFile(const std::string& path, std::string* out, std::string* why);
class Reader;
// Copies a reader's recorded positions into its list cells, where the
// compiler finds them: `aux` holds line << 12 | column (column capped at
// 4095, line at 2^20 - 1), `flags` the file's id (State::FileId).
void StampPositions(State& S, const Reader& r);
inline uint32_t PosLine(const Obj* pair) { return pair->aux >> 12; }
inline uint32_t PosCol(const Obj* pair) { return pair->aux & 0xFFF; }
// Compiles a macro expansion in the scope the macro call appeared in. The
// macro calls in it get macro_depth (the expanded call's depth + 1).
Node* CompileInScope(State& S, Value form, Scope* scope, Value file, uint32_t line, uint32_t col,
                     bool tail, uint32_t macro_depth);

void RegisterMachineTypes(Heap& heap);

}  // namespace sx::interp
