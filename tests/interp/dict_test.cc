// Dict: the persistent HAMT against std::map as a model.
#include "interp/dict.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "interp/equal.h"
#include "interp/printer.h"
#include "interp/state.h"

namespace sx::interp {
namespace {

// "k" + std::to_string(i), spelled so GCC 12 -O3 does not warn (-Wrestrict false positive).
std::string Numbered(const char* prefix, int64_t n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

class DictTest : public ::testing::Test {
 protected:
  State S;

  void TearDown() override { SetDictHashForTesting(nullptr); }

  String* Key(std::string_view s) { return AsString(S.heap.MakeString(s)); }
  Value Int(int64_t n) { return S.heap.MakeInt(n); }

  Value Assoc(Value d, std::string_view k, Value v) { return DictAssoc(S.heap, d, Key(k), v); }
  Value Dissoc(Value d, std::string_view k) { return DictDissoc(S.heap, d, Key(k)); }
  Value Get(Value d, std::string_view k) { return DictGetView(S.heap, d, k); }

  // The dict holds exactly the model's entries.
  void ExpectMatches(Value d, const std::map<std::string, int64_t>& model) {
    ASSERT_EQ(DictCount(d), model.size());
    auto entries = DictEntriesSorted(d);
    ASSERT_EQ(entries.size(), model.size());
    size_t i = 0;
    for (const auto& [k, v] : model) {
      ASSERT_EQ(entries[i].first->View(), k);
      ASSERT_EQ(AsInt(entries[i].second), v);
      ++i;
    }
  }
};

TEST_F(DictTest, EmptyDict) {
  Value d = DictEmpty(S.heap);
  EXPECT_EQ(DictCount(d), 0u);
  EXPECT_TRUE(Get(d, "a").IsUndefined());
  EXPECT_EQ(Dissoc(d, "a"), d);
  EXPECT_TRUE(DictEntriesSorted(d).empty());
}

TEST_F(DictTest, AssocGetDissoc) {
  Value d = Assoc(DictEmpty(S.heap), "a", Int(1));
  d = Assoc(d, "b", Int(2));
  EXPECT_EQ(DictCount(d), 2u);
  EXPECT_EQ(AsInt(Get(d, "a")), 1);
  EXPECT_EQ(AsInt(DictGet(d, Key("b"))), 2);
  d = Assoc(d, "a", Int(10));
  EXPECT_EQ(DictCount(d), 2u);
  EXPECT_EQ(AsInt(Get(d, "a")), 10);
  d = Dissoc(d, "a");
  EXPECT_EQ(DictCount(d), 1u);
  EXPECT_TRUE(Get(d, "a").IsUndefined());
  EXPECT_EQ(Dissoc(d, "zzz"), d);  // absent key: same dict
  d = Dissoc(d, "b");
  EXPECT_EQ(DictCount(d), 0u);
}

TEST_F(DictTest, AssocOfTheSameValueReturnsTheSameDict) {
  Value one = Int(1);
  Value d = Assoc(DictEmpty(S.heap), "a", one);
  EXPECT_EQ(Assoc(d, "a", one), d);
}

TEST_F(DictTest, OldVersionsAreUnchanged) {
  std::vector<Value> versions{DictEmpty(S.heap)};
  for (int i = 0; i < 2000; ++i) {
    versions.push_back(Assoc(versions.back(), Numbered("k", i), Int(i)));
  }
  Value overwritten = Assoc(versions.back(), "k5", Int(-5));
  Value removed = Dissoc(versions.back(), "k7");
  for (int v = 0; v <= 2000; v += 97) {
    EXPECT_EQ(DictCount(versions[v]), static_cast<size_t>(v));
    for (int i = 0; i < 2000; ++i) {
      Value got = Get(versions[v], Numbered("k", i));
      if (i < v) {
        ASSERT_EQ(AsInt(got), i);
      } else {
        ASSERT_TRUE(got.IsUndefined());
      }
    }
  }
  EXPECT_EQ(AsInt(Get(versions.back(), "k5")), 5);
  EXPECT_EQ(AsInt(Get(overwritten, "k5")), -5);
  EXPECT_EQ(AsInt(Get(versions.back(), "k7")), 7);
  EXPECT_TRUE(Get(removed, "k7").IsUndefined());
}

TEST_F(DictTest, TwoHundredThousandKeysWithRandomDissocMatchAModel) {
  std::map<std::string, int64_t> model;
  Value d = DictEmpty(S.heap);
  size_t slot = S.Root(d);
  // Collects now and then, as the machine would between steps.
  auto safe_point = [&](int i) {
    if (i % 20000 != 0) return;
    S.SetRoot(slot, d);
    S.heap.Collect();
  };
  for (int i = 0; i < 200000; ++i) {
    std::string k = Numbered("key-", i * 7919 % 200003);
    d = Assoc(d, k, Int(i));
    model[k] = i;
    safe_point(i);
  }
  ExpectMatches(d, model);

  // Assoc on the big dict allocates a path, not a copy.
  size_t before = S.heap.stats().total_allocated;
  Value bigger = Assoc(d, "one more", Int(-1));
  EXPECT_LT(S.heap.stats().total_allocated - before, 4096u);
  EXPECT_EQ(DictCount(bigger), DictCount(d) + 1);

  std::mt19937 rng(99);
  std::vector<std::string> keys;
  for (auto& [k, v] : model) keys.push_back(k);
  for (int i = 0; i < 150000; ++i) {
    const std::string& k = keys[rng() % keys.size()];
    if (rng() % 4 == 0) {
      d = Assoc(d, k, Int(i));
      model[k] = i;
    } else {
      d = Dissoc(d, k);
      model.erase(k);
    }
    safe_point(i);
  }
  ExpectMatches(d, model);
  for (const std::string& k : keys) {
    auto it = model.find(k);
    Value got = Get(d, k);
    if (it == model.end()) {
      ASSERT_TRUE(got.IsUndefined()) << k;
    } else {
      ASSERT_EQ(AsInt(got), it->second) << k;
    }
  }
  for (const std::string& k : keys) d = Dissoc(d, k);
  EXPECT_EQ(DictCount(d), 0u);
  S.Unroot(slot);
}

uint32_t ConstantHash(std::string_view) { return 0xdeadbeef; }
uint32_t TwoBucketHash(std::string_view s) { return s.size() % 2 ? 0x12345678 : 0x12345679; }
uint32_t FirstByteHash(std::string_view s) { return s.empty() ? 1 : static_cast<uint8_t>(s[0]); }

TEST_F(DictTest, CollisionsAreHandled) {
  for (auto* hash : {&ConstantHash, &TwoBucketHash, &FirstByteHash}) {
    SetDictHashForTesting(hash);
    std::map<std::string, int64_t> model;
    Value d = DictEmpty(S.heap);
    std::mt19937 rng(5);
    for (int i = 0; i < 3000; ++i) {
      char prefix[2] = {static_cast<char>('a' + rng() % 26), '\0'};
      std::string k = Numbered(prefix, rng() % 500);
      if (rng() % 3 == 0) {
        d = Dissoc(d, k);
        model.erase(k);
      } else {
        d = Assoc(d, k, Int(i));
        model[k] = i;
      }
    }
    ExpectMatches(d, model);
    for (auto& [k, v] : model) ASSERT_EQ(AsInt(Get(d, k)), v);
    EXPECT_TRUE(Get(d, "not there").IsUndefined());
    while (!model.empty()) {
      d = Dissoc(d, model.begin()->first);
      model.erase(model.begin());
      ASSERT_EQ(DictCount(d), model.size());
    }
    for (auto& k : {"x", "y", "z"}) d = Assoc(d, k, Int(1));
    EXPECT_EQ(Inspect(S, d), "{:x 1 :y 1 :z 1}");
  }
}

TEST_F(DictTest, HashIsCachedAndNeverZero) {
  String* s = Key("hello");
  EXPECT_EQ(s->aux, 0u);
  uint32_t h = HashString(s);
  EXPECT_NE(h, 0u);
  EXPECT_EQ(s->aux, h);
  EXPECT_EQ(HashString(Key("hello")), h);
  EXPECT_NE(HashString(Key("hellp")), h);
  EXPECT_NE(HashString(Key("")), 0u);
}

TEST_F(DictTest, SurvivesCollection) {
  Value d = DictEmpty(S.heap);
  for (int i = 0; i < 5000; ++i) d = Assoc(d, Numbered("k", i), S.heap.MakeString("v"));
  size_t slot = S.Root(d);
  for (int i = 0; i < 5000; ++i) Assoc(d, Numbered("junk", i), Int(i));  // garbage
  S.heap.Collect();
  for (int i = 0; i < 20000; ++i) S.heap.MakeString("fill the freed slots with something else");
  d = S.GetRoot(slot);
  EXPECT_EQ(DictCount(d), 5000u);
  for (int i = 0; i < 5000; ++i) ASSERT_EQ(StringView(Get(d, Numbered("k", i))), "v");
  S.Unroot(slot);
}

// A transient updates its own nodes in place and copies shared ones: the
// dict it started from, and every other dict sharing nodes with it, stay as
// they were, with ordinary and with colliding hashes.
TEST_F(DictTest, TransientUpdatesNeverChangeSharedNodes) {
  for (auto* hash :
       {static_cast<uint32_t (*)(std::string_view)>(nullptr), &TwoBucketHash, &FirstByteHash}) {
    SetDictHashForTesting(hash);
    std::map<std::string, int64_t> base_model;
    Value base = DictEmpty(S.heap);
    for (int i = 0; i < 3000; ++i) {
      base = Assoc(base, Numbered("k", i), Int(i));
      base_model[Numbered("k", i)] = i;
    }
    Value sibling = Assoc(base, "k7", Int(-7));  // shares all but one path with base

    std::map<std::string, int64_t> model = base_model;
    Value t = base;
    std::mt19937 rng(11);
    for (int i = 0; i < 6000; ++i) {
      std::string k = Numbered(rng() % 2 ? "k" : "n", rng() % 4000);
      Value next = DictAssocTransient(S.heap, t, Key(k), Int(100000 + i));
      if (i > 0) {
        ASSERT_EQ(next, t) << "a transient keeps its header";
      }
      t = next;
      model[k] = 100000 + i;
    }
    ASSERT_NE(t, base);
    ExpectMatches(t, model);
    ExpectMatches(base, base_model);
    EXPECT_EQ(AsInt(Get(sibling, "k7")), -7);
    EXPECT_EQ(AsInt(Get(sibling, "k8")), 8);
    EXPECT_EQ(DictCount(sibling), 3000u);

    // Frozen, it is an ordinary value: a new transient from it copies again.
    DictFreeze(t);
    std::map<std::string, int64_t> frozen_model = model;
    Value u = t;
    for (int i = 0; i < 2000; ++i) {
      std::string k = Numbered("k", i * 3);
      u = DictAssocTransient(S.heap, u, Key(k), Int(-i));
      model[k] = -i;
    }
    ASSERT_NE(u, t);
    ExpectMatches(u, model);
    ExpectMatches(t, frozen_model);
    ExpectMatches(base, base_model);
  }
}

// A transient's nodes keep their owner alive. Were the header of a frozen
// transient freed while its nodes live on in another dict, a new transient
// header could take its address and find those nodes writable.
TEST_F(DictTest, AFrozenTransientsNodesStayImmutableAfterCollection) {
  Value t = DictEmpty(S.heap);
  for (int i = 0; i < 100; ++i) t = DictAssocTransient(S.heap, t, Key(Numbered("t", i)), Int(i));
  DictFreeze(t);
  Obj* old_header = t.AsObj();
  size_t slot = S.Root(Assoc(t, "extra", Int(1)));  // a new header over t's nodes
  S.heap.Collect();                                 // t itself is garbage now
  Value shared = S.GetRoot(slot);
  String* t5 = Key("t5");
  String* t6 = Key("t6");
  // Take headers until one lands where t's was, if it ever does.
  for (int i = 0; i < 100000; ++i) {
    Value v = DictAssocTransient(S.heap, shared, t5, Int(-1));
    if (v.AsObj() == old_header) {
      DictAssocTransient(S.heap, v, t6, Int(-1));
      break;
    }
  }
  EXPECT_EQ(DictCount(shared), 101u);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(AsInt(Get(shared, Numbered("t", i))), i);
  S.Unroot(slot);
}

TEST_F(DictTest, ForEachVisitsEveryEntryOnce) {
  Value d = DictEmpty(S.heap);
  for (int i = 0; i < 1000; ++i) d = Assoc(d, std::to_string(i), Int(i));
  std::vector<int> seen(1000, 0);
  DictForEach(d, [&](String* k, Value v) {
    EXPECT_EQ(std::to_string(AsInt(v)), k->View());
    ++seen[AsInt(v)];
  });
  for (int n : seen) EXPECT_EQ(n, 1);
}

}  // namespace
}  // namespace sx::interp
