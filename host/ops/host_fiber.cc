// host_fiber.cc — the fiber behind HostFiber, on Boost.Context.
//
// As the interpreter's own fibers (interp/machine_fibers.cc): the stack is
// guard-paged, except under AddressSanitizer, which gets a plain heap stack
// and is told of every switch (SanStart before it, SanFinish after). The
// stack is as large as a main thread's (8 MiB, mapped lazily), since a job
// decodes stored values as deeply nested as the reader allows.
#include "host/ops/host_fiber.h"

#include <boost/context/fiber.hpp>
#include <exception>
#include <utility>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>

#include <boost/context/fixedsize_stack.hpp>
#define SX_ASAN_FIBERS 1
#else
#include <boost/context/protected_fixedsize_stack.hpp>
#endif

namespace sx::host {

namespace ctx = boost::context;

namespace {

constexpr size_t kStackBytes = 8 * 1024 * 1024;

#if defined(SX_ASAN_FIBERS)
using BaseStack = ctx::fixedsize_stack;
#else
using BaseStack = ctx::protected_fixedsize_stack;
#endif

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

// Raised inside a parked job to unwind it.
struct Unwind {};

}  // namespace

struct HostFiber::Impl {
  ctx::fiber self;    // switching to it runs the job
  ctx::fiber caller;  // switching to it returns to Start or Resume
  std::function<void()> job;
  std::exception_ptr error;
  bool inside = false;
  bool parked = false;
  // The fiber's stack and the stack of whoever entered it last, for the
  // sanitizer's bookkeeping.
  const void* stack_bottom = nullptr;
  size_t stack_size = 0;
  const void* caller_bottom = nullptr;
  size_t caller_size = 0;
  void* fake_stack = nullptr;

  void Make();
  bool Enter();
  void Leave();
};

namespace {

// Records where the fiber's stack lies as it is allocated.
class StackAllocator {
 public:
  StackAllocator(const void** bottom, size_t* size) : bottom_(bottom), size_(size) {}
  ctx::stack_context allocate() {
    ctx::stack_context sc = base_.allocate();
    *size_ = sc.size;
    *bottom_ = static_cast<char*>(sc.sp) - sc.size;
    return sc;
  }
  void deallocate(ctx::stack_context& sc) noexcept { base_.deallocate(sc); }

 private:
  const void** bottom_;
  size_t* size_;
  BaseStack base_{kStackBytes};
};

}  // namespace

void HostFiber::Impl::Make() {
  self = ctx::fiber(std::allocator_arg, StackAllocator(&stack_bottom, &stack_size),
                    [this](ctx::fiber&& c) {
                      SanFinish(nullptr, &caller_bottom, &caller_size);
                      caller = std::move(c);
                      try {
                        // One job per entry; between jobs the fiber idles parked here.
                        while (job) {
                          try {
                            job();
                          } catch (const Unwind&) {
                            throw;
                          } catch (...) {
                            error = std::current_exception();
                          }
                          job = nullptr;
                          Leave();
                        }
                      } catch (const Unwind&) {
                        // The destructor unwound a parked job.
                      }
                      SanStart(nullptr, caller_bottom, caller_size);  // this stack ends
                      return std::move(caller);
                    });
}

// Switches into the fiber; true when the job ended there.
bool HostFiber::Impl::Enter() {
  void* fake = nullptr;
  inside = true;
  parked = false;
  SanStart(&fake, stack_bottom, stack_size);
  self = std::move(self).resume();
  SanFinish(fake, nullptr, nullptr);
  inside = false;
  if (job) {
    parked = true;
    return false;
  }
  if (error) std::rethrow_exception(std::exchange(error, nullptr));
  return true;
}

// Switches back to whoever entered the fiber.
void HostFiber::Impl::Leave() {
  SanStart(&fake_stack, caller_bottom, caller_size);
  caller = std::move(caller).resume();
  SanFinish(fake_stack, &caller_bottom, &caller_size);
}

HostFiber::HostFiber() : impl_(std::make_unique<Impl>()) {}

HostFiber::~HostFiber() {
  Impl* f = impl_.get();
  if (!f->self) return;
  void* fake = nullptr;
  SanStart(&fake, f->stack_bottom, f->stack_size);
  if (!f->job) {
    f->self = std::move(f->self).resume();  // idle: its loop ends
  } else {
    f->self = std::move(f->self).resume_with([f](ctx::fiber&& c) -> ctx::fiber {
      SanFinish(f->fake_stack, &f->caller_bottom, &f->caller_size);
      f->caller = std::move(c);
      throw Unwind{};
    });
  }
  SanFinish(fake, nullptr, nullptr);
}

bool HostFiber::Start(std::function<void()> job) {
  if (!impl_->self) impl_->Make();
  impl_->job = std::move(job);
  return impl_->Enter();
}

bool HostFiber::Resume() { return impl_->parked ? impl_->Enter() : true; }

void HostFiber::Park() {
  impl_->inside = false;
  impl_->Leave();
  impl_->inside = true;
}

bool HostFiber::inside() const { return impl_->inside; }
bool HostFiber::parked() const { return impl_->parked; }

}  // namespace sx::host
