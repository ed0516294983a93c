// LogWatcher: how a reader beside a writer waits for the writer's next
// commit without polling the files in a loop. It asks the kernel (inotify)
// to say when the active segment is written to or the store directory
// changes (a segment published, rolled, retired); where inotify is not
// available it sleeps in short steps instead (kFallbackPollMs).
//
// Use: Arm(the active segment's path), then look at the store (Refresh),
// then Wait. Arming first means a commit that lands between the look and
// the wait still wakes the wait. Linux only; one thread.
#pragma once

#include <string>

namespace sx::store {

class LogWatcher {
 public:
  static constexpr int kFallbackPollMs = 10;
  static constexpr int kCoalesceMs = 5;

  explicit LogWatcher(std::string dir);
  ~LogWatcher();
  LogWatcher(const LogWatcher&) = delete;
  LogWatcher& operator=(const LogWatcher&) = delete;

  // Watches file (the active segment) for its next write, and the
  // directory. Call it before every look at the store.
  void Arm(const std::string& file);
  // Returns once something was written to what Arm named, or after
  // timeout_ms (at most). True if it was woken by a change; false on
  // timeout or when it had to guess (the fallback).
  bool Wait(int timeout_ms);
  bool uses_inotify() const { return fd_ >= 0; }

 private:
  std::string dir_;
  int fd_ = -1;
  int dir_wd_ = -1;
  int file_wd_ = -1;
  std::string file_;
};

}  // namespace sx::store
