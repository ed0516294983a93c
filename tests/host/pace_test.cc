// pace_test.cc — Pace, the persist service's choice between two groups at
// once and one: it keeps the way in use, tries the other every
// kProbeEvery busy windows, and keeps that one when it answered more.
#include "host/ops/pace.h"

#include <gtest/gtest.h>

#include <string>

namespace sx::host {
namespace {

// Feeds Pace whole windows of `requests` answers each and records which
// way was in use after each: "2" or "1".
class Feeder {
 public:
  std::string Windows(int count, size_t requests) {
    std::string ways;
    for (int i = 0; i < count; ++i) {
      now_ += Pace::kWindowNs;
      pace_.Answered(requests, now_);
      ways += pace_.two() ? '2' : '1';
    }
    return ways;
  }
  Pace pace_;
  int64_t now_ = 1'000'000'000;
};

TEST(Pace, TriesOneGroupAfterABusySpellAndComesBackWhenItIsSlower) {
  Feeder f;
  f.Windows(1, 1000);  // opens the first window
  // 16 busy windows at 1000 a window, then the trial: a window to settle,
  // two measured (900 and 1000: slower on average), and back, with a
  // window to settle again.
  EXPECT_EQ(f.Windows(16, 1000), "2222222222222221");
  EXPECT_EQ(f.Windows(1, 1000), "1");  // settling
  EXPECT_EQ(f.Windows(1, 900), "1");   // the trial's first window
  EXPECT_EQ(f.Windows(1, 1000), "2");  // its second: the trial lost
  EXPECT_EQ(f.Windows(1, 1000), "2");  // settling
  EXPECT_EQ(f.Windows(15, 1000), "222222222222222");
  EXPECT_EQ(f.Windows(1, 1000), "1");  // the next trial
}

TEST(Pace, KeepsOneGroupWhenItAnswersMoreThanTheMargin) {
  Feeder f;
  f.Windows(1, 1000);
  f.Windows(16, 1000);
  f.Windows(1, 1000);                   // settling
  EXPECT_EQ(f.Windows(2, 1100), "11");  // 10% more: one group stays
  EXPECT_EQ(f.Windows(15, 1100), "111111111111111");
  EXPECT_EQ(f.Windows(1, 1100), "2");   // now two groups get a trial
  EXPECT_EQ(f.Windows(1, 1100), "2");   // settling
  EXPECT_EQ(f.Windows(2, 1120), "21");  // within the margin: back to one
}

TEST(Pace, OneFastWindowDoesNotWinATrial) {
  Feeder f;
  f.Windows(1, 1000);
  f.Windows(16, 1000);
  f.Windows(1, 1000);  // settling
  // 1300 then 800: 1050 on average, within the margin of 1000.
  EXPECT_EQ(f.Windows(1, 1300), "1");
  EXPECT_EQ(f.Windows(1, 800), "2");
}

TEST(Pace, QuietWindowsAreNotCompared) {
  Feeder f;
  f.Windows(1, 1000);
  // Windows with fewer than kMinRequests answers count toward nothing.
  EXPECT_EQ(f.Windows(40, Pace::kMinRequests - 1), std::string(40, '2'));
  f.Windows(16, 1000);
  f.Windows(1, 1000);                                    // settling
  EXPECT_EQ(f.Windows(1, Pace::kMinRequests - 1), "2");  // a quiet trial keeps two
}

TEST(Pace, APauseStartsANewWindow) {
  Pace p;
  int64_t t = 1'000'000'000;
  p.Answered(1000, t);
  // Answers after a pause of many windows open a new window rather than
  // close one long window: the 16th busy window is the 16th after the pause.
  t += 10 * Pace::kWindowNs;
  p.Answered(1000, t);
  for (int i = 0; i < 15; ++i) {
    t += Pace::kWindowNs;
    p.Answered(1000, t);
  }
  EXPECT_TRUE(p.two());
  t += Pace::kWindowNs;
  p.Answered(1000, t);
  EXPECT_FALSE(p.two());  // the trial began
}

}  // namespace
}  // namespace sx::host
