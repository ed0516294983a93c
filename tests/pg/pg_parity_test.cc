// The PostgreSQL backend gives the embedded store's answers: the same random
// groups of batches go to both, every result (code, message, expected,
// actual) and every read afterwards must match.
#include <random>
#include <string>
#include <vector>

#include "host/store/mem_env.h"
#include "host/store/store.h"
#include "tests/pg/pg_fixture.h"

namespace sx::pg {
namespace {

using store::WriteBatch;

using PgParity = PgTest;

TEST_F(PgParity, RandomGroupsGetTheEmbeddedStoresAnswers) {
  store::MemEnv env;
  store::Options options;
  options.env = &env;
  std::unique_ptr<store::Store> ref;
  Status s = store::Store::Open(options, "/parity", &ref);
  ASSERT_TRUE(s.ok()) << s.ToString();

  const std::vector<std::string> streams = {"a", "b", std::string("\0c\n\"", 4)};
  const std::vector<std::string> keys = {"k1", "k2", std::string("k\0", 2)};
  const std::vector<std::string> values = {"x", "y", std::string("\0", 1), ""};
  std::mt19937 rng(17);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  size_t conflicts = 0, accepted = 0;
  for (int round = 0; round < 150; ++round) {
    size_t nbatches = 1 + pick(4);
    std::vector<WriteBatch> batches(nbatches);
    for (WriteBatch& b : batches) {
      size_t nops = 1 + pick(3);
      for (size_t k = 0; k < nops; ++k) {
        const std::string& st = streams[pick(streams.size())];
        const std::string& key = keys[pick(keys.size())];
        uint64_t last = ref->LastSeq(st);
        // Seqs near the hwm: some taken, some next, some ahead.
        uint64_t seq = last + pick(3);
        std::optional<std::string> expected;
        std::string cur;
        switch (pick(7)) {
          case 0:
          case 1:
            b.Append(st, seq, "p" + std::to_string(round));
            break;
          case 2:
            b.AppendExpect(st, last - (last > 0 ? pick(2) : 0), last + 1 + pick(2),
                           "q" + std::to_string(round));
            break;
          case 3:
            b.KvPut(key, values[pick(values.size())]);
            break;
          case 4:
            b.KvDelete(key);
            break;
          case 5:
            if (ref->KvGet(key, &cur).ok() && pick(2)) expected = cur;
            if (pick(4) == 0) expected = values[pick(values.size())];
            b.KvCas(
                key, expected,
                pick(4) ? std::optional<std::string>(values[pick(values.size())]) : std::nullopt);
            break;
          default:
            b.TruncateThrough(st, pick(static_cast<size_t>(last) + 3));
            break;
        }
      }
    }
    std::vector<const WriteBatch*> group;
    for (const WriteBatch& b : batches) group.push_back(&b);
    std::vector<Status> want, got;
    ref->CommitGroup(group, &want);
    db_->CommitGroup(group, &got);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got[i].code(), want[i].code()) << "round " << round << " batch " << i << ": "
                                               << got[i].ToString() << " vs " << want[i].ToString();
      EXPECT_EQ(got[i].message(), want[i].message()) << "round " << round;
      EXPECT_EQ(got[i].expected(), want[i].expected()) << "round " << round;
      EXPECT_EQ(got[i].actual(), want[i].actual()) << "round " << round;
      conflicts += want[i].IsConflict();
      accepted += want[i].ok();
    }
    if (::testing::Test::HasFailure()) break;
  }
  // The random mix exercised both outcomes.
  EXPECT_GT(conflicts, 20u);
  EXPECT_GT(accepted, 100u);

  std::vector<std::string> got_streams;
  ASSERT_TRUE(db_->Streams(&got_streams).ok());
  EXPECT_EQ(got_streams, ref->Streams());
  for (const std::string& st : streams) {
    uint64_t last = 0, first = 0;
    ASSERT_TRUE(db_->LastSeq(st, &last).ok());
    ASSERT_TRUE(db_->FirstSeq(st, &first).ok());
    EXPECT_EQ(last, ref->LastSeq(st));
    EXPECT_EQ(first, ref->FirstSeq(st));
    std::vector<backend::Event> got_events;
    std::vector<store::Event> want_events;
    ASSERT_TRUE(db_->Read(st, 0, 1000, &got_events).ok());
    ASSERT_TRUE(ref->Read(st, 0, 1000, &want_events).ok());
    ASSERT_EQ(got_events.size(), want_events.size()) << "stream " << st;
    for (size_t i = 0; i < got_events.size(); ++i) {
      EXPECT_EQ(got_events[i].seq, want_events[i].seq);
      EXPECT_EQ(got_events[i].payload, want_events[i].payload);
    }
  }
  std::vector<std::string> got_keys;
  ASSERT_TRUE(db_->KvKeys(&got_keys).ok());
  EXPECT_EQ(got_keys, ref->KvKeys());
  for (const std::string& key : keys) {
    std::string a, b;
    Status sa = db_->KvGet(key, &a), sb = ref->KvGet(key, &b);
    EXPECT_EQ(sa.code(), sb.code());
    EXPECT_EQ(a, b);
  }
}

}  // namespace
}  // namespace sx::pg
