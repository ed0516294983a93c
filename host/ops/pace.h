// pace.h — whether the persist service sends a round of appends as two
// groups (the second while the first is on the server) or as one, when the
// engine leaves it to the host (Backend::Overlap::kAuto).
//
// Two groups let the host's work on one overlap the server's on the other,
// but each group has its own commit, and so its own flush of the server's
// log: with a fast flush two groups win, with a slow one (several ms) one
// group of twice the size does. Which holds changes with the server's disk
// and load, so Pace measures: it counts the requests answered in windows of
// kWindowNs, and every kProbeEvery windows it tries the other way for
// kTrialWindows (after one to settle in, since the groups take a round to
// split or join), keeping it if those answered more than kMargin as many
// per second as the last kTrialWindows the way in use. Averages of a few
// windows, since a disk's flush time swings from one to the next. Windows
// with too little traffic to tell (kMinRequests) are not compared.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sx::host {

class Pace {
 public:
  static constexpr int64_t kWindowNs = 100'000'000;
  static constexpr int kProbeEvery = 16;
  static constexpr int kTrialWindows = 2;
  static constexpr double kMargin = 1.05;
  static constexpr uint64_t kMinRequests = 256;

  // The way in use: true, two groups.
  bool two() const { return two_; }

  // `n` requests were answered at now_ns (a steady clock).
  void Answered(size_t n, int64_t now_ns) {
    if (start_ns_ < 0 || now_ns - start_ns_ > 4 * kWindowNs) {
      Restart(now_ns);  // the first answers, or after a pause: a new window
    }
    requests_ += n;
    if (now_ns - start_ns_ < kWindowNs) return;
    double rate = static_cast<double>(requests_) * 1e9 / static_cast<double>(now_ns - start_ns_);
    bool busy = requests_ >= kMinRequests;
    Restart(now_ns);
    if (settling_) {
      settling_ = false;  // the window after a switch: the groups were changing
      return;
    }
    if (two_ != chosen_) {
      // A window of the trial of the other way; a quiet one ends it.
      if (busy) trial_[trial_windows_++] = rate;
      if (busy && trial_windows_ < kTrialWindows) return;
      if (busy && Mean(trial_) > Mean(recent_) * kMargin) chosen_ = two_;
      Switch(chosen_);
      return;
    }
    if (!busy) return;
    recent_[recent_windows_++ % kTrialWindows] = rate;
    if (++windows_ >= kProbeEvery) Switch(!chosen_);
  }

 private:
  static double Mean(const double (&r)[kTrialWindows]) {
    double sum = 0;
    for (double x : r) sum += x;
    return sum / kTrialWindows;
  }
  void Restart(int64_t now_ns) {
    start_ns_ = now_ns;
    requests_ = 0;
  }
  void Switch(bool two) {
    if (two != two_) settling_ = true;
    two_ = two;
    windows_ = 0;
    trial_windows_ = 0;
  }

  bool two_ = true;     // the way in use
  bool chosen_ = true;  // the way that won the last trial
  bool settling_ = false;
  double recent_[kTrialWindows] = {};  // requests/s of the last busy windows the chosen way
  int recent_windows_ = 0;
  double trial_[kTrialWindows] = {};  // and of the trial's
  int trial_windows_ = 0;
  int windows_ = 0;  // busy windows the chosen way since the last trial
  int64_t start_ns_ = -1;
  uint64_t requests_ = 0;
};

}  // namespace sx::host
