// machine_internal.h — pieces shared by the machine's files (machine.cc,
// call_cache.cc, backtrace.cc, load.cc, machine_ops.cc, tasks.cc, ...).
#pragma once

#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "interp/machine.h"
#include "interp/native.h"
#include "interp/state.h"

namespace sx::interp {

constexpr uint16_t kEnvGrown = 1;
// Set on the frame of a closure call; cleared when a lambda captures it. A
// tail call from an activation whose frame nobody captured may overwrite
// that frame instead of allocating a new one.
constexpr uint16_t kEnvReusable = 2;
// Set on the frame of a reduce callback (Proto::consumes_acc) whose first
// slot holds the accumulator, which reduce gives up: the callback's
// kAccConsumer call may update that dict in place (DictAssocTransient).
constexpr uint16_t kEnvOwnsAcc = 4;

inline Native* AsNative(Value v) { return static_cast<Native*>(v.AsObj()); }

inline MachineOp OpOf(Native* n) { return static_cast<MachineOp>(n->aux); }

// Raises "NAME: expected N arguments, got M" (max < 0: no upper bound).
[[noreturn]] void ArityError(State& S, const char* name, int min, int max, size_t got);

// Calls a native after checking its arity (raises the arity error).
inline Value CallNative(State& S, Native* nat, const Value* args, size_t n) {
  const NativeSpec* spec = nat->spec;
  if (static_cast<int>(n) < spec->min_args ||
      (spec->max_args >= 0 && static_cast<int>(n) > spec->max_args)) {
    ArityError(S, spec->name, spec->min_args, spec->max_args, n);
  }
  return nat->fn(Args{S, spec->name, args, static_cast<int>(n), nat->user});
}
// The same, out of line.
Value CallNativeChecked(State& S, Native* nat, const Value* args, size_t n);

// Recomputes how a call runs (its CallMode, evaluator and callee) for the
// current global epoch (call_cache.cc). Any global definition moves the
// epoch on, so the answer holds exactly as long as the bindings it was
// drawn from.
void Revalidate(State& S, Node* n);

// Is this simple expression (flagged kSimpleNode) still free of frames: is
// every operator in it a plain native?
inline bool CanSimple(State& S, Node* n) {
  if (n->kind != NodeKind::kCall) return true;
  if (n->epoch != S.global_epoch) Revalidate(S, n);
  return n->mode == static_cast<uint8_t>(CallMode::kSimple);
}

struct FiberWorker;

// One call of a calls-back native on its own fiber, from start to return.
// Owned by Machine::fiber_calls_ under its id (the kFiberWait frame's `i`).
struct FiberCall {
  enum State : uint8_t { kRunning, kParked, kDone, kFailed };
  uint32_t id = 0;
  State state = kRunning;
  FiberWorker* worker = nullptr;
  Native* nat = nullptr;
  std::vector<Value> args;    // the native's arguments (rooted here)
  Task* outer = nullptr;      // the task that called the native
  size_t depth = 0;           // task_stack_ size when the native started
  Task* inner = nullptr;      // parked: the callback's suspended run
  Value request;              // parked: what the callback performed
  Value result;               // kDone / kFailed: the value / the raised value
  bool resume_error = false;  // how the host resumed the parked callback
  Value resume_value;
};

// Fibers with their stacks, kept for reuse (machine_fibers.cc).
class FiberPool {
 public:
  FiberPool() = default;
  ~FiberPool();
  FiberPool(const FiberPool&) = delete;
  FiberPool& operator=(const FiberPool&) = delete;

  FiberWorker* Acquire(Machine* m);
  void Release(FiberWorker* w);  // its job finished: back to the pool
  void Discard(FiberWorker* w);  // parked mid-job: unwind its stack, free it
  // Switches into w (starting or continuing its job) until it parks or ends.
  static void Enter(FiberWorker* w);
  // From inside w's job: switches back to whoever entered it.
  static void Park(FiberWorker* w);

 private:
  std::vector<FiberWorker*> idle_;
};

// A slot past the end of a frame exists when a lazily expanded macro added a
// binding after the frame was made: grow the frame to fit. The larger slot
// array is another Env object (used only as storage), kept alive by the
// frame through inline_slots[0], which the move leaves unused, so frames
// need no finalizer.
inline void SetSlot(Heap& heap, Env* e, uint32_t index, Value v) {
  if (index >= e->size) {
    uint32_t size = index + 1;
    auto* store = static_cast<Env*>(
        heap.AllocateRaw(ObjType::kEnv, sizeof(Env) + (size - 1) * sizeof(Value)));
    store->flags = 0;
    store->parent = nullptr;
    store->slots = store->inline_slots;
    store->size = size;
    for (uint32_t i = 0; i < size; ++i)
      store->slots[i] = i < e->size ? e->slots[i] : Value::Undefined();
    e->slots = store->slots;
    e->size = size;
    e->inline_slots[0] = Value::Object(store);
    e->flags |= kEnvGrown;
  }
  e->slots[index] = v;
}

inline Env* EnvAt(Env* e, uint16_t depth) {
  while (depth-- > 0) e = e->parent;
  return e;
}

// Both arguments are small integers: the result without calling the native.
// Returns false when the op does not apply (e.g. a product that overflows
// 48 bits is left to the native, which boxes or reports overflow).
[[gnu::always_inline]] inline bool FastArith(uint16_t op, Value x, Value y, Value* out) {
  if (!x.IsSmallInt() || !y.IsSmallInt()) return false;
  int64_t a = x.AsSmallInt(), b = y.AsSmallInt();
  int64_t r;
  switch (op) {
    case kFastAdd:
      r = a + b;  // cannot overflow: both fit in 48 bits
      break;
    case kFastSub:
      r = a - b;
      break;
    case kFastMul:
      if (__builtin_mul_overflow(a, b, &r)) return false;
      break;
    case kFastLt:
      *out = Value::Bool(a < b);
      return true;
    case kFastGt:
      *out = Value::Bool(a > b);
      return true;
    case kFastLe:
      *out = Value::Bool(a <= b);
      return true;
    case kFastGe:
      *out = Value::Bool(a >= b);
      return true;
    case kFastEq:
      *out = Value::Bool(a == b);
      return true;
    default:
      return false;
  }
  if (!Value::FitsSmall(r)) return false;
  *out = Value::SmallInt(r);
  return true;
}

// The registers and stacks of one run of the loop.
class MachineLoop {
 public:
  MachineLoop(State& S, Machine& m, Task* t, Node*& cur_call)
      : S(S), m(m), frames(*t->frames), vals(*t->vals), cur_call(cur_call) {}

  State& S;
  Machine& m;
  FrameStack& frames;
  ValueStack& vals;
  Node*& cur_call;

  Value Simple(Node* n, Env* env);
  // A leaf operand (constant or variable) inline; anything else via Simple.
  [[gnu::always_inline]] Value Operand(Node* n, Env* env) {
    switch (n->kind) {
      case NodeKind::kConst:
        return n->value;
      case NodeKind::kParam:
        return EnvAt(env, n->depth)->slots[n->index];
      case NodeKind::kLocal:
        return LocalValue(n, env);
      case NodeKind::kGlobal:
        return GlobalValue(n);
      default:
        return n->eval(*this, n, env);  // a simple call
    }
  }
  // A FastOp native's call when the inline case does not apply. Never
  // inlined: the arithmetic evaluators stay a few instructions and a jump.
  [[gnu::noinline]] Value ArithSlow(Node* n, Value x, Value y);
  Value LocalValue(Node* n, Env* env) {
    Env* e = EnvAt(env, n->depth);
    Value v = n->index < e->size ? e->slots[n->index] : Value::Undefined();
    if (v.IsUndefined()) ThrowUsedBeforeDefined(n);
    return v;
  }
  Value GlobalValue(Node* n) {
    Value v = AsSymbol(n->value)->global;
    if (v.IsUndefined()) ThrowUnbound(n);
    return v;
  }
  [[noreturn, gnu::cold, gnu::noinline]] void ThrowUsedBeforeDefined(Node* n);
  [[noreturn, gnu::cold, gnu::noinline]] void ThrowUnbound(Node* n);
  [[noreturn, gnu::cold, gnu::noinline]] void ThrowOverflow();
  [[gnu::always_inline]] void Push(FrameKind kind, Node* node, Env* env, uint32_t i = 0,
                                   uint32_t base = 0, Value x = Value::Nil(),
                                   Value y = Value::Nil()) {
    if (frames.size() >= S.limits.max_frames) ThrowOverflow();
    frames.push_back(Frame{kind, i, base, node, env, x, y});
  }
};

}  // namespace sx::interp
