// progress.h — the progress line a long store tool prints on a terminal.
//
// Progress writes "\r<what> <done>/<total>" (or "<done>" when the total is
// unknown) to err, at most about ten times a second, and only when standard
// error is a terminal: piped or redirected, a tool stays quiet. Done() ends
// the line it drew. Tests pass enabled explicitly.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

namespace sx::store {

class Progress {
 public:
  Progress(std::ostream& err, std::string what, uint64_t total = 0)
      : Progress(err, std::move(what), total, ::isatty(STDERR_FILENO) == 1) {}
  Progress(std::ostream& err, std::string what, uint64_t total, bool enabled)
      : err_(err), what_(std::move(what)), total_(total), enabled_(enabled) {}
  ~Progress() { Done(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void set_total(uint64_t total) { total_ = total; }

  void Update(uint64_t done) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    if (drawn_ && now - last_ < std::chrono::milliseconds(100) && done != total_) return;
    last_ = now;
    drawn_ = true;
    err_ << "\r" << what_ << " " << done;
    if (total_ > 0) err_ << "/" << total_;
    err_ << std::flush;
  }

  void Done() {
    if (drawn_) err_ << "\n" << std::flush;
    drawn_ = false;
  }

 private:
  std::ostream& err_;
  std::string what_;
  uint64_t total_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace sx::store
