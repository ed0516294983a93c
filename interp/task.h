// task.h — a computation as data: the frames of its continuation, its
// operand stack, and the Task object that holds them and is also the SX task
// value. Suspension keeps both stacks; the machine continues them later.
// The scheduler's states (tasks.cc) live on the Task too.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <new>
#include <type_traits>
#include <vector>

#include "interp/heap.h"
#include "interp/node.h"
#include "interp/value.h"

namespace sx::interp {

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

}  // namespace sx::interp
