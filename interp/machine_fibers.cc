// machine_fibers.cc — C++ natives that call back into SX, run on fibers.
//
// SX code suspends for free because its continuation is data; a C++ native's
// frame is not. A native declared "calls back" therefore runs on a
// Boost.Context fiber of its own. Its callbacks (Machine::CallBack) run a
// nested machine loop on that fiber in a new Task; when the callback
// performs, the fiber parks: CallBack switches back to the loop that started
// the native, which pushes a kFiberWait frame on the calling task and returns
// the request as an ordinary suspension. Resume and ResumeError reach that
// frame, switch into the fiber, and the nested run continues where it
// stopped. When the native returns (or raises), the frame pops and the
// calling loop goes on with its value. Callback natives nest: each level is
// one more fiber parked inside the one below.
//
// Who owns what. A FiberCall (machine_internal.h) lives in
// Machine::fiber_calls_ from the native's start to its return, and holds the
// native's arguments, the parked inner task and the values in flight; the
// collector marks them from there (a nested run collects at its own safe
// points while the calling task waits). Fibers are pooled with their stacks
// (256 KiB; guard-paged except under AddressSanitizer, which gets plain
// heap stacks and is told of every switch, see SanStart/SanFinish).
// Abandoning a task with parked fibers unwinds their stacks (a FiberCancel
// exception raised where each parked), so a native must not swallow
// exceptions with catch (...).
//
// Threading: fibers never leave the interpreter's one thread.
#include <boost/context/fiber.hpp>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>

#include <boost/context/fixedsize_stack.hpp>
#define SX_ASAN_FIBERS 1
#else
#include <boost/context/protected_fixedsize_stack.hpp>
#endif

#include "interp/machine_internal.h"

namespace sx::interp {

namespace ctx = boost::context;

namespace {

constexpr size_t kFiberStackBytes = 256 * 1024;
constexpr size_t kMaxIdleFibers = 64;

#if defined(SX_ASAN_FIBERS)
using BaseStack = ctx::fixedsize_stack;
#else
using BaseStack = ctx::protected_fixedsize_stack;
#endif

}  // namespace

// Thrown into a parked job to abandon it.
struct FiberCancel {};

struct FiberWorker {
  ctx::fiber self;    // switching to it runs the worker
  ctx::fiber caller;  // switching to it returns to whoever entered the worker
  FiberCall* job = nullptr;
  Machine* machine = nullptr;
  // The fiber's stack, and the stack of whoever entered it last (for the
  // sanitizer's bookkeeping of switches).
  const void* stack_bottom = nullptr;
  size_t stack_size = 0;
  const void* caller_bottom = nullptr;
  size_t caller_size = 0;
  void* fake_stack = nullptr;
};

namespace {

// Records where the fiber's stack lies as it is allocated.
class StackAllocator {
 public:
  explicit StackAllocator(FiberWorker* w) : w_(w), base_(kFiberStackBytes) {}
  ctx::stack_context allocate() {
    ctx::stack_context sc = base_.allocate();
    w_->stack_size = sc.size;
    w_->stack_bottom = static_cast<char*>(sc.sp) - sc.size;
    return sc;
  }
  void deallocate(ctx::stack_context& sc) noexcept { base_.deallocate(sc); }

 private:
  FiberWorker* w_;
  BaseStack base_;
};

// Around every switch: tell AddressSanitizer which stack is about to run
// (SanStart) and, once on it, which one we came from (SanFinish).
inline void SanStart(void** fake, const void* bottom, size_t size) {
#if defined(SX_ASAN_FIBERS)
  __sanitizer_start_switch_fiber(fake, bottom, size);
#else
  (void)fake, (void)bottom, (void)size;
#endif
}
inline void SanFinish(void* fake, const void** from_bottom, size_t* from_size) {
#if defined(SX_ASAN_FIBERS)
  __sanitizer_finish_switch_fiber(fake, from_bottom, from_size);
#else
  (void)fake, (void)from_bottom, (void)from_size;
#endif
}

}  // namespace

// --- the pool ---------------------------------------------------------------------

FiberPool::~FiberPool() {
  for (FiberWorker* w : idle_) Discard(w);
}

FiberWorker* FiberPool::Acquire(Machine* m) {
  if (!idle_.empty()) {
    FiberWorker* w = idle_.back();
    idle_.pop_back();
    return w;
  }
  auto* w = new FiberWorker();
  w->machine = m;
  w->self = ctx::fiber(std::allocator_arg, StackAllocator(w), [w](ctx::fiber&& caller) {
    SanFinish(nullptr, &w->caller_bottom, &w->caller_size);
    w->caller = std::move(caller);
    try {
      // One job per entry; between jobs the worker idles parked here, its
      // stack kept for the next native.
      while (w->job != nullptr) {
        w->machine->RunFiberJob(w->job);
        w->job = nullptr;
        Park(w);
      }
    } catch (const FiberCancel&) {
      // Discard unwound a parked job.
    }
    SanStart(nullptr, w->caller_bottom, w->caller_size);  // this stack ends
    return std::move(w->caller);
  });
  return w;
}

void FiberPool::Release(FiberWorker* w) {
  if (idle_.size() >= kMaxIdleFibers) {
    Discard(w);
    return;
  }
  idle_.push_back(w);
}

void FiberPool::Discard(FiberWorker* w) {
  if (w->self) {
    void* fake = nullptr;
    SanStart(&fake, w->stack_bottom, w->stack_size);
    if (w->job == nullptr) {
      // Idle (or never started): the loop ends normally.
      w->self = std::move(w->self).resume();
    } else {
      // Parked mid-job: raise FiberCancel where it parked, so its stack
      // unwinds (destructors run) and the worker ends.
      w->self = std::move(w->self).resume_with([w](ctx::fiber&& c) -> ctx::fiber {
        SanFinish(w->fake_stack, &w->caller_bottom, &w->caller_size);
        w->caller = std::move(c);
        throw FiberCancel{};
      });
    }
    SanFinish(fake, nullptr, nullptr);
  }
  delete w;
}

void FiberPool::Enter(FiberWorker* w) {
  void* fake = nullptr;
  SanStart(&fake, w->stack_bottom, w->stack_size);
  w->self = std::move(w->self).resume();
  SanFinish(fake, nullptr, nullptr);
}

void FiberPool::Park(FiberWorker* w) {
  SanStart(&w->fake_stack, w->caller_bottom, w->caller_size);
  w->caller = std::move(w->caller).resume();
  SanFinish(w->fake_stack, &w->caller_bottom, &w->caller_size);
}

// --- the machine's side ---------------------------------------------------------------

void Machine::RunFiberJob(FiberCall* fc) {
  try {
    fc->result = CallNativeChecked(S_, fc->nat, fc->args.data(), fc->args.size());
    fc->state = FiberCall::kDone;
  } catch (SxThrow& e) {
    fc->result = e.value;
    fc->state = FiberCall::kFailed;
  } catch (std::bad_alloc&) {
    fc->result = OutOfMemory();
    fc->state = FiberCall::kFailed;
  } catch (std::exception& e) {
    try {
      fc->result = S_.heap.MakeError(
          S_.heap.MakeString(std::string(fc->nat->spec->name) + ": " + e.what()), Value::Nil());
    } catch (std::bad_alloc&) {
      fc->result = OutOfMemory();
    }
    fc->state = FiberCall::kFailed;
  }
}

Machine::Susp Machine::StartFiber(Native* nat, const Value* args, size_t n, Value* out,
                                  uint32_t* id) {
  auto fc = std::make_unique<FiberCall>();
  fc->id = next_fiber_id_++;
  if (next_fiber_id_ == 0) next_fiber_id_ = 1;
  fc->nat = nat;
  fc->args.assign(args, args + n);
  fc->outer = task_;
  fc->depth = task_stack_.size();
  fc->worker = pool_->Acquire(this);
  fc->worker->job = fc.get();
  FiberCall* raw = fc.get();
  *id = raw->id;
  fiber_calls_.emplace(raw->id, std::move(fc));
  return EnterFiber(raw, out);
}

// Switches into the fiber until the native returns or its callback parks.
Machine::Susp Machine::EnterFiber(FiberCall* fc, Value* out) {
  FiberCall* saved = current_fc_;
  Node* saved_call = cur_call_;
  current_fc_ = fc;
  fc->state = FiberCall::kRunning;
  FiberPool::Enter(fc->worker);
  current_fc_ = saved;
  cur_call_ = saved_call;
  if (fc->state == FiberCall::kParked) {
    *out = fc->request;
    return Susp::kSuspended;
  }
  bool failed = fc->state == FiberCall::kFailed;
  *out = fc->result;
  pool_->Release(fc->worker);
  fiber_calls_.erase(fc->id);
  return failed ? Susp::kThrew : Susp::kFinished;
}

Machine::Susp Machine::ResumeFiber(uint32_t id, bool error, Value v, Value* out) {
  auto it = fiber_calls_.find(id);
  if (it == fiber_calls_.end() || it->second->state != FiberCall::kParked) {
    *out =
        S_.heap.MakeError(S_.heap.MakeString("internal: no parked native to resume"), Value::Nil());
    return Susp::kThrew;
  }
  FiberCall* fc = it->second.get();
  fc->resume_error = error;
  fc->resume_value = v;
  return EnterFiber(fc, out);
}

RunResult Machine::CallBack(Value fn, const Value* args, size_t n) {
  FiberCall* fc = current_fc_;
  // Only the native the fiber was started for may park it: a plain native
  // called from inside a nested run sits on the fiber's stack too, but the
  // task stack above it is not the fiber's.
  bool can_park = fc != nullptr && task_ == fc->outer && task_stack_.size() == fc->depth;
  // An error the native raises afterwards is placed at its own call, not
  // at the callback's last one.
  Node* saved_call = cur_call_;
  Task* inner = NewTask();
  Start(inner);
  inner->vals->push_back(fn);
  for (size_t i = 0; i < n; ++i) inner->vals->push_back(args[i]);
  RunResult r = Run(Entry::kApply, Value::Nil(), nullptr, nullptr);
  while (r.status == RunStatus::kSuspended) {
    if (!can_park) {
      CancelFibers(inner);
      inner->frames->clear();
      inner->vals->clear();
      inner->state = kTaskDone;
      Value err = S_.heap.MakeError(
          S_.heap.MakeString("a callback performed inside a native that was not declared to "
                             "call back (use NativeOptions{.calls_back = true})"),
          Value::Nil());
      cur_call_ = saved_call;
      return Finish(RunResult{RunStatus::kError, err});
    }
    // Park: the calling loop takes over with the request.
    fc->inner = inner;
    fc->request = r.value;
    fc->state = FiberCall::kParked;
    task_ = task_stack_.back();
    task_stack_.pop_back();
    FiberPool::Park(fc->worker);
    // Resumed by the kFiberWait frame of the calling task.
    fc->inner = nullptr;
    fc->request = Value::Nil();
    Value v = fc->resume_value;
    fc->resume_value = Value::Nil();
    Start(inner);
    r = Run(fc->resume_error ? Entry::kThrow : Entry::kReturn, v, nullptr, nullptr);
  }
  cur_call_ = saved_call;
  return Finish(r);
}

// Abandons the fibers parked under t (innermost first).
void Machine::CancelFibers(Task* t) {
  if (t == nullptr) return;
  for (const Frame& f : *t->frames) {
    if (f.kind != FrameKind::kFiberWait) continue;
    auto it = fiber_calls_.find(f.i);
    if (it == fiber_calls_.end()) continue;
    std::unique_ptr<FiberCall> fc = std::move(it->second);
    fiber_calls_.erase(it);
    CancelFibers(fc->inner);
    pool_->Discard(fc->worker);
  }
}

void Machine::DropFibers() {
  while (!fiber_calls_.empty()) {
    auto it = fiber_calls_.begin();
    std::unique_ptr<FiberCall> fc = std::move(it->second);
    fiber_calls_.erase(it);
    if (fc->worker != nullptr) pool_->Discard(fc->worker);
  }
  pool_ = std::make_unique<FiberPool>();
}

}  // namespace sx::interp
