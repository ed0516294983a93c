// The rules for how a store's segment files fit together: which numbers
// must be there, and how the newest segments may end after a crash.
#include "host/store/segment_chain.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "host/store/log_format.h"

namespace sx::store {
namespace {

using End = SegmentScan::End;

SegmentFacts Sealed(uint32_t n, uint32_t version = 2) {
  return SegmentFacts{n, version, End::kSealed, 500};
}
SegmentFacts Open(uint32_t n, uint32_t version = 2) {
  return SegmentFacts{n, version, End::kClean, 300};
}
SegmentFacts Empty(uint32_t n) { return SegmentFacts{n, 2, End::kClean, log::kSegmentHeaderSize}; }

std::vector<std::string> Problems(const std::vector<SegmentFacts>& segments,
                                  const SegmentSet& retired = SegmentSet()) {
  std::vector<std::string> out;
  for (const ChainProblem& p : CheckSegmentChain(segments, retired)) {
    out.push_back(std::to_string(p.segment) + (p.file_missing ? " missing" : " present") + ": " +
                  p.what);
  }
  return out;
}

TEST(SegmentSet, MergesRangesAndAnswersMembership) {
  SegmentSet set;
  EXPECT_TRUE(set.empty());
  set.Add(5);
  set.Add(SegmentRange{1, 2});
  set.Add(3);  // touches both neighbours' gap: 1-3 and 5
  EXPECT_EQ(set.Ranges(), (std::vector<SegmentRange>{{1, 3}, {5, 5}}));
  set.Add(4);
  EXPECT_EQ(set.Ranges(), (std::vector<SegmentRange>{{1, 5}}));
  set.Add(SegmentRange{10, 20});
  set.Add(SegmentRange{8, 12});
  EXPECT_EQ(set.Ranges(), (std::vector<SegmentRange>{{1, 5}, {8, 20}}));
  EXPECT_TRUE(set.Contains(1));
  EXPECT_TRUE(set.Contains(20));
  EXPECT_FALSE(set.Contains(6));
  EXPECT_FALSE(set.Contains(21));
  EXPECT_FALSE(set.Contains(0));
  EXPECT_EQ(set.Missing(SegmentRange{1, 25}), (std::vector<SegmentRange>{{6, 7}, {21, 25}}));
  EXPECT_EQ(set.Missing(SegmentRange{9, 12}), std::vector<SegmentRange>{});
  EXPECT_EQ(set.Missing(SegmentRange{4, 9}), (std::vector<SegmentRange>{{6, 7}}));
}

TEST(SegmentChain, AHealthyStoreHasNoProblems) {
  EXPECT_TRUE(Problems({Open(1)}).empty());
  EXPECT_TRUE(Problems({Sealed(1), Sealed(2), Open(3)}).empty());
  SegmentSet retired;
  retired.Add(SegmentRange{1, 2});
  retired.Add(4);
  EXPECT_TRUE(Problems({Sealed(3), Sealed(5), Open(6)}, retired).empty());
}

TEST(SegmentChain, ANumberNeitherPresentNorRetiredIsMissing) {
  EXPECT_EQ(Problems({Sealed(2), Open(3)}),
            std::vector<std::string>{"1 missing: the segment file is missing: compaction did "
                                     "not retire it"});
  SegmentSet retired;
  retired.Add(1);
  EXPECT_EQ(Problems({Sealed(2), Sealed(5), Open(6)}, retired).size(), 1u) << "3 and 4 are one run";
  EXPECT_NE(Problems({Sealed(2), Sealed(5), Open(6)}, retired)[0].find(
                "0000000003.seg to 0000000004.seg are missing"),
            std::string::npos);
}

TEST(SegmentChain, ASealedNewestSegmentMeansItsSuccessorIsMissing) {
  auto p = Problems({Sealed(1), Sealed(2)});
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].substr(0, 10), "3 missing:");
  // A version-1 writer sealed first and created the next segment after: a
  // crash between the two left a sealed newest segment that lost nothing.
  EXPECT_TRUE(Problems({Sealed(1, 1), Sealed(2, 1)}).empty());
}

TEST(SegmentChain, AnUnsealedSegmentBeforeTheNewestIsAProblem) {
  auto p = Problems({Open(1), Sealed(2), Open(3)});
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0], "1 present: segment is not sealed but is not the last one");
}

TEST(SegmentChain, AnInterruptedRollIsAccepted) {
  std::vector<SegmentFacts> segs = {Sealed(1), Open(2), Empty(3)};
  EXPECT_TRUE(RollInterrupted(segs, 1));
  EXPECT_TRUE(Problems(segs).empty());
  segs[1].end = End::kTornTail;  // the crash also tore the last record
  EXPECT_TRUE(RollInterrupted(segs, 1));
  EXPECT_TRUE(Problems(segs).empty());
  // Not when the successor has records, is not the next number, or is not
  // the newest.
  EXPECT_FALSE(RollInterrupted({Open(2), Open(3)}, 0));
  EXPECT_FALSE(RollInterrupted({Open(2), Empty(4)}, 0));
  EXPECT_FALSE(RollInterrupted({Open(2), Empty(3), Empty(4)}, 0));
  EXPECT_FALSE(Problems({Open(2), Open(3)}).empty());
}

TEST(SegmentChain, VersionOneGapsAreNotChecked) {
  // Version 1 compacted without retired records: gaps are expected.
  EXPECT_TRUE(Problems({Sealed(2, 1), Sealed(5, 1), Open(6, 1)}).empty());
  // Its version-2 segments were each created while their predecessor was
  // the newest, so that one must be there.
  EXPECT_TRUE(Problems({Sealed(2, 1), Sealed(5, 1), Sealed(6), Open(7)}).empty());
  auto p = Problems({Sealed(2, 1), Sealed(5, 1), Sealed(7), Open(8)});
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].substr(0, 10), "6 missing:");
  // Once a retired record exists, every number is accounted for.
  SegmentSet retired;
  retired.Add(SegmentRange{1, 1});
  retired.Add(SegmentRange{3, 4});
  EXPECT_TRUE(Problems({Sealed(2, 1), Sealed(5, 1), Open(6)}, retired).empty());
  retired = SegmentSet();
  retired.Add(1);
  EXPECT_EQ(Problems({Sealed(2, 1), Sealed(5, 1), Open(6)}, retired).size(), 1u);
}

TEST(SegmentChain, AStrayFileFarAheadIsOneProblemNotBillions) {
  auto p = Problems({Sealed(1), Open(2), SegmentFacts{4000000000u, 0, End::kCorrupt, 0}});
  ASSERT_EQ(p.size(), 2u);  // the unsealed 2, and one run of missing numbers
  EXPECT_NE(p[1].find("0000000003.seg to 3999999999.seg are missing"), std::string::npos) << p[1];
}

}  // namespace
}  // namespace sx::store
