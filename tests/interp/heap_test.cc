// heap_test.cc — allocation, collection, roots and the allocation-failure switch.
#include "interp/heap.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <new>

#include "interp/state.h"

namespace sx::interp {
namespace {

TEST(Heap, SmallIntegersStayUnboxedAndLargeOnesRoundTrip) {
  Heap h;
  EXPECT_TRUE(h.MakeInt(5).IsSmallInt());
  EXPECT_TRUE(h.MakeInt(Value::kSmallMax).IsSmallInt());
  Value big = h.MakeInt(Value::kSmallMax + 1);
  EXPECT_FALSE(big.IsSmallInt());
  EXPECT_EQ(AsInt(big), Value::kSmallMax + 1);
  EXPECT_EQ(AsInt(h.MakeInt(INT64_MIN)), INT64_MIN);
  EXPECT_EQ(AsInt(h.MakeInt(INT64_MAX)), INT64_MAX);
  EXPECT_EQ(AsInt(h.MakeInt(-1)), -1);
}

TEST(Heap, NaNIsCanonicalAndNeverLooksTagged) {
  Value nan = Value::Float(-std::numeric_limits<double>::quiet_NaN());
  EXPECT_TRUE(nan.IsFloat());
  EXPECT_FALSE(nan.IsNil());
  EXPECT_TRUE(Value::Float(-0.0).IsFloat());
  EXPECT_TRUE(std::signbit(Value::Float(-0.0).AsFloat()));
}

TEST(Heap, InterningGivesTheSameObject) {
  Heap h;
  EXPECT_EQ(h.Intern("abc"), h.Intern("abc"));
  EXPECT_NE(h.Intern("abc"), h.Intern("abd"));
  EXPECT_EQ(h.InternKeyword("k"), h.InternKeyword("k"));
}

TEST(Heap, CollectionFreesWhatNoRootReaches) {
  Heap h;
  Value kept = Value::EmptyList();
  h.SetRootMarker([&](Heap& hh) { hh.Mark(kept); });
  for (int i = 0; i < 1000; ++i) kept = h.Cons(Value::SmallInt(i), kept);
  for (int i = 0; i < 100000; ++i) h.Cons(Value::SmallInt(i), Value::EmptyList());
  size_t before = h.stats().allocated_bytes;
  h.Collect();
  size_t after = h.stats().allocated_bytes;
  EXPECT_LT(after, before / 10);
  // The rooted list is intact.
  int n = 0;
  for (Value p = kept; IsPair(p); p = Cdr(p)) EXPECT_EQ(Car(p).AsSmallInt(), 999 - n++);
  EXPECT_EQ(n, 1000);
}

TEST(Heap, LongListsAreMarkedWithoutRecursion) {
  Heap h;
  Value kept = Value::EmptyList();
  h.SetRootMarker([&](Heap& hh) { hh.Mark(kept); });
  for (int i = 0; i < 2000000; ++i) kept = h.Cons(Value::SmallInt(i), kept);
  h.Collect();  // must not overflow the C++ stack
  EXPECT_EQ(Car(kept).AsSmallInt(), 1999999);
}

TEST(Heap, FreedSlotsAreReused) {
  Heap h;
  h.SetRootMarker([](Heap&) {});
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 200000; ++i) h.Cons(Value::Nil(), Value::EmptyList());
    h.Collect();
  }
  EXPECT_LT(h.stats().allocated_bytes, size_t{1} << 20);
}

TEST(Heap, AReleasedSlotIsTheNextOneTakenAndNoLongerCounted) {
  Heap h;
  h.SetRootMarker([](Heap&) {});
  Obj* a = h.AllocateRaw(ObjType::kPair, sizeof(Pair));
  size_t with_a = h.stats().allocated_bytes;
  h.Release(a, sizeof(Pair));
  EXPECT_EQ(h.stats().allocated_bytes, with_a - sizeof(Pair));
  EXPECT_EQ(h.AllocateRaw(ObjType::kPair, sizeof(Pair)), a);
  // Released after a collection counted it: the totals still agree.
  Obj* b = h.AllocateRaw(ObjType::kPair, sizeof(Pair));
  h.SetRootMarker([&](Heap& hh) {
    hh.MarkObj(a);
    hh.MarkObj(b);
  });
  static_cast<Pair*>(a)->car = static_cast<Pair*>(a)->cdr = Value::Nil();
  static_cast<Pair*>(b)->car = static_cast<Pair*>(b)->cdr = Value::Nil();
  h.Collect();
  size_t live = h.stats().allocated_bytes;
  h.SetRootMarker([&](Heap& hh) { hh.MarkObj(a); });
  h.Release(b, sizeof(Pair));
  EXPECT_EQ(h.stats().allocated_bytes, live - sizeof(Pair));
  h.Collect();  // the released slot is free, not swept twice
  EXPECT_EQ(h.stats().allocated_bytes, live - sizeof(Pair));
}

TEST(Heap, LargeObjectsAreCollectedToo) {
  Heap h;
  h.SetRootMarker([](Heap&) {});
  for (int i = 0; i < 100; ++i) h.MakeString(std::string(100000, 'x'));
  EXPECT_GT(h.stats().allocated_bytes, size_t{9000000});
  h.Collect();
  EXPECT_LT(h.stats().allocated_bytes, size_t{100000});
}

TEST(Heap, FailingTheNthAllocationThrowsBadAlloc) {
  Heap h;
  h.FailAllocationAfter(3);
  h.Cons(Value::Nil(), Value::EmptyList());
  h.Cons(Value::Nil(), Value::EmptyList());
  EXPECT_THROW(h.Cons(Value::Nil(), Value::EmptyList()), std::bad_alloc);
  EXPECT_NO_THROW(h.Cons(Value::Nil(), Value::EmptyList()));
}

TEST(Heap, FailingFromTheNthAllocationOnThrowsUntilTheSwitchIsReset) {
  Heap h;
  h.FailAllocationsFrom(2);
  h.Cons(Value::Nil(), Value::EmptyList());
  for (int i = 0; i < 5; ++i)
    EXPECT_THROW(h.Cons(Value::Nil(), Value::EmptyList()), std::bad_alloc);
  EXPECT_THROW(h.MakeString(std::string(5000, 'x')), std::bad_alloc);
  h.FailAllocationsFrom(0);
  EXPECT_NO_THROW(h.Cons(Value::Nil(), Value::EmptyList()));
}

}  // namespace
}  // namespace sx::interp
