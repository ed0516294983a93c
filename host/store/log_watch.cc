// LogWatcher over Linux inotify (in glibc), with a sleeping fallback.
#include "host/store/log_watch.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace sx::store {

LogWatcher::LogWatcher(std::string dir) : dir_(std::move(dir)) {
  fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0) return;
  dir_wd_ = inotify_add_watch(fd_, dir_.c_str(), IN_CREATE | IN_MOVED_TO | IN_DELETE);
  if (dir_wd_ < 0) {
    close(fd_);
    fd_ = -1;
  }
}

LogWatcher::~LogWatcher() {
  if (fd_ >= 0) close(fd_);
}

void LogWatcher::Arm(const std::string& file) {
  if (fd_ < 0) return;
  if (file != file_ && file_wd_ >= 0) inotify_rm_watch(fd_, file_wd_);
  // One-shot: the kernel drops the watch at the first write, so a writer
  // appending fast pays for one event per look of the reader, not for one
  // per write. Each Arm sets it again.
  file_wd_ = file.empty() ? -1 : inotify_add_watch(fd_, file.c_str(), IN_MODIFY | IN_ONESHOT);
  file_ = file_wd_ >= 0 ? file : std::string();
}

bool LogWatcher::Wait(int timeout_ms) {
  timeout_ms = std::max(timeout_ms, 0);
  if (fd_ < 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(timeout_ms, kFallbackPollMs)));
    return false;
  }
  pollfd p{fd_, POLLIN, 0};
  int n = poll(&p, 1, timeout_ms);
  if (n <= 0) return false;
  // A writer appending fast makes an event per write: let a few more come,
  // so that the reader looks once per kCoalesceMs at most, not once per
  // write (it would take a core from the writer), then drain them all.
  std::this_thread::sleep_for(std::chrono::milliseconds(kCoalesceMs));
  alignas(inotify_event) char buf[4096];
  while (read(fd_, buf, sizeof(buf)) > 0) {
  }
  return true;
}

}  // namespace sx::store
