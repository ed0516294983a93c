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
// operations with frames of their own, so callbacks may perform too.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
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
  kCall,       // kids[0] operator, kids[1..] operands; kMaybeMacro: value = form, extra = Scope*
  kDictLit,    // value = list of key strings, kids = value expressions
  kGuard,      // a = body, b = handler, index = slot of the error variable
  kReraise,    // depth 0, index = slot holding the error to raise again
  kPerform,    // a = request
  kMacroCall,  // value = original form, extra = Scope*, a = cached expansion
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
};

struct Node : Obj {
  NodeKind kind;
  uint16_t depth;
  uint32_t index;
  uint32_t line;
  uint32_t col;
  Value value;
  Value file;     // string or nil
  Obj* extra;     // kLambda: Proto; kMacroCall: Scope
  Node* a;
  Node* b;
  Node* c;
  uint32_t nkids;
  Node* kids[1];  // nkids entries
};

struct Proto : Obj {
  uint32_t nparams;   // required + optional positional parameters
  uint32_t frame_size;  // slots: parameters, rest, let bindings, internal defines
  bool has_rest;
  Node* body;
  Value name;  // symbol or nil
  Value doc;   // string or nil
  Value file;
  uint32_t line;
};

struct Env : Obj {
  Env* parent;
  Value* slots;   // points at inline_slots, or at a malloc'd array after growth
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
  kCallArg,    // node = call, i = next operand, base = start of values
  kIf,
  kSeq,        // i = next kid
  kSetLocal,
  kSetGlobal,
  kDefGlobal,
  kAnd,
  kOr,
  kDictLit,    // like kCallArg
  kGuard,      // base = value-stack height to restore
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

// The operand stack: a vector of Values whose push and truncate stay inline
// (Values are trivially copyable, so shrinking is just a size change).
class ValueStack {
 public:
  ValueStack() = default;
  ~ValueStack() { std::free(data_); }
  ValueStack(const ValueStack&) = delete;
  ValueStack& operator=(const ValueStack&) = delete;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  Value* data() { return data_; }
  Value* begin() { return data_; }
  Value* end() { return data_ + size_; }
  const Value* begin() const { return data_; }
  const Value* end() const { return data_ + size_; }
  Value& operator[](size_t i) { return data_[i]; }
  void push_back(Value v) {
    if (size_ == cap_) Grow();
    data_[size_++] = v;
  }
  // Only ever shrinks (callers truncate back to a saved height).
  void resize(size_t n) { size_ = n; }
  void clear() { size_ = 0; }

 private:
  void Grow();
  Value* data_ = nullptr;
  size_t size_ = 0;
  size_t cap_ = 0;
};

// A computation: its continuation (frames) and operand stack. Suspension
// keeps both; Resume continues them.
struct Task : Obj {
  std::vector<Frame>* frames;
  ValueStack* vals;
  uint8_t state;  // TaskState
};

enum TaskState : uint8_t { kTaskReady = 0, kTaskRunning, kTaskSuspended, kTaskDone };

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
  kCallCC,  // reserved
};

class Machine {
 public:
  explicit Machine(State& S);

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

  // The text of an uncaught error: message, then "  at FILE:LINE:COL" lines.
  std::string FormatError(Value err);

  // Registers machine operations (map, filter, ...) as globals and marks the
  // builtin arithmetic natives with their FastOp.
  void InstallOps();

 private:
  friend class MachineLoop;
  enum class Entry { kEval, kReturn, kApply, kThrow };

  RunResult Run(Entry entry, Value val, Node* node, Env* env);
  void Start(Task* t);
  RunResult Finish(RunResult r);
  Task* NewTask();
  Env* NewEnv(Env* parent, uint32_t size);
  bool Unwind(MachineLoop& L, Value err, Node** node, Env** env);
  // Machine operations. ApplyOp returns true with *val set when the op is
  // finished, or false after setting up a call at vals[op_base_].
  bool ApplyOp(MachineLoop& L, Native* nat, size_t base, Value* val);
  // A callback returned to an op's frame: true when the frame is finished
  // (*val is its result), false after setting up the next call.
  bool OpReturn(MachineLoop& L, Value* val);
  void LoadFile(Node* at, Value path, Value* forms, Value* file);
  bool Import(Value name, Value* forms, Value* file);

  State& S_;
  Task* task_ = nullptr;
  std::vector<Task*> task_stack_;  // runs suspended beneath a nested run
  std::set<std::string, std::less<>> imported_;
  volatile int interrupt_ = 0;
  Node* cur_call_ = nullptr;
  Node* reg_node_ = nullptr;  // registers, visible to the collector
  Env* reg_env_ = nullptr;
  size_t op_base_ = 0;
};

// Compiles one top-level form. Raises an SX error (ThrowError) on a syntax
// error in a special form.
Node* CompileToplevel(State& S, Value form, Value file, Proto** toplevel_proto);
// Reads every form of a source text (positions recorded for the compiler).
// Raises an SX error naming file:line:col on bad input.
Value ParseSource(State& S, std::string_view text, const std::string& file);
class Reader;
// Copies a reader's recorded positions into its list cells, where the
// compiler finds them: `aux` holds line << 12 | column (column capped at
// 4095, line at 2^20 - 1), `flags` the file's id (State::FileId).
void StampPositions(State& S, const Reader& r);
inline uint32_t PosLine(const Obj* pair) { return pair->aux >> 12; }
inline uint32_t PosCol(const Obj* pair) { return pair->aux & 0xFFF; }
// Compiles a macro expansion in the scope the macro call appeared in.
Node* CompileInScope(State& S, Value form, Scope* scope, Value file, uint32_t line, uint32_t col,
                     bool tail);

void RegisterMachineTypes(Heap& heap);

}  // namespace sx::interp
