// host_fiber.h — host work on a fiber of its own, so that it can stop where
// it waits for a server and let the interpreter's tasks run meanwhile.
//
// A HostFiber runs one job at a time. Start enters the fiber and returns
// when the job has ended or has parked (the job called Park); Resume
// continues a parked job. An exception the job lets out is thrown again by
// the Start or Resume that saw it end. The fiber and its stack are kept for
// the next job. Destroying a HostFiber whose job is parked unwinds the
// job's stack (an exception raised where it parked), so a job must not
// swallow exceptions with catch (...).
//
// Threading: a HostFiber stays on the thread that made it.
#pragma once

#include <functional>
#include <memory>

namespace sx::host {

class HostFiber {
 public:
  HostFiber();
  ~HostFiber();
  HostFiber(const HostFiber&) = delete;
  HostFiber& operator=(const HostFiber&) = delete;

  // Runs job on the fiber. True when it ended, false when it parked.
  bool Start(std::function<void()> job);
  // Continues the parked job. True when it ended, false when it parked again.
  bool Resume();
  // From inside the job only: back to the caller of Start or Resume.
  void Park();

  bool inside() const;  // the job is running now (Park may be called)
  bool parked() const;  // a job is parked, waiting for Resume

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sx::host
