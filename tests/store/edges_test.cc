// The edges where an acknowledged write could be lost without a word: every
// segment file gone, a directory that is not a store, damage to the newest
// records, and what open cuts off. On a memory filesystem.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "host/store/coding.h"
#include "host/store/crc32c.h"
#include "host/store/log_format.h"
#include "host/store/mem_env.h"
#include "host/store/store.h"
#include "host/store/tools.h"
#include "tests/store/test_util.h"

namespace sx::store {
namespace {

using testing::MemOptions;
using testing::OpenOrDie;

constexpr char kDir[] = "/db";

std::string Seg(uint32_t n) { return std::string(kDir) + "/" + SegmentFileName(n); }
std::string MarkerPath() { return std::string(kDir) + "/" + log::kMarkerFileName; }

std::vector<uint32_t> SegmentNumbers(MemEnv* env) {
  std::vector<std::string> names;
  EXPECT_TRUE(env->ListDir(kDir, &names).ok());
  std::vector<uint32_t> out;
  for (const std::string& name : names) {
    uint32_t n;
    if (ParseSegmentFileName(name, &n)) out.push_back(n);
  }
  return out;
}

// A store with a few events and a key, closed again; with crash, left as
// a crash leaves it (the marker as it is while a writer has the store).
void MakeStore(MemEnv* env, int events = 5, size_t payload = 20, bool crash = false) {
  auto store = OpenOrDie(MemOptions(env), kDir);
  for (int i = 1; i <= events; ++i) {
    ASSERT_TRUE(store->Append("s", i, std::string(payload, 'a' + i % 26)).ok());
  }
  ASSERT_TRUE(store->KvPut("k", "v").ok());
  std::string open_marker;
  ASSERT_TRUE(env->GetContents(MarkerPath(), &open_marker).ok());
  store.reset();
  if (crash) {
    ASSERT_TRUE(env->SetContents(MarkerPath(), open_marker).ok());
  }
}

Status TryOpen(MemEnv* env, Options o = Options()) {
  if (o.env == nullptr) o = MemOptions(env);
  std::unique_ptr<Store> store;
  return Store::Open(o, kDir, &store);
}

// ---------------------------------------------------------------- the marker

TEST(StoreMarker, ANewStoreHasAMarkerNamingItsNewestSegment) {
  MemEnv env;
  MakeStore(&env, 60, 200);  // several 4 KiB segments
  std::string data;
  ASSERT_TRUE(env.GetContents(MarkerPath(), &data).ok());
  StoreMarker m;
  ASSERT_TRUE(DecodeStoreMarker(data, &m).ok());
  EXPECT_EQ(m.version, log::kFormatVersion);
  EXPECT_EQ(m.newest_segment, SegmentNumbers(&env).back());
  EXPECT_GT(m.newest_segment, 1u);
}

TEST(StoreMarker, EverySegmentFileGoneIsCorruptionNotANewEmptyStore) {
  MemEnv env;
  MakeStore(&env);
  for (uint32_t n : SegmentNumbers(&env)) ASSERT_TRUE(env.DeleteFile(Seg(n)).ok());
  Status s = TryOpen(&env);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_TRUE(SegmentNumbers(&env).empty()) << "open created a segment";
  Options ro = MemOptions(&env);
  ro.read_only = true;
  EXPECT_TRUE(TryOpen(&env, ro).IsCorruption());
}

TEST(StoreMarker, TheNewestSegmentGoneIsCorruption) {
  MemEnv env;
  MakeStore(&env, 60, 200);
  std::vector<uint32_t> numbers = SegmentNumbers(&env);
  ASSERT_GE(numbers.size(), 2u);
  // Take the newest and make the one before look like the newest: unseal
  // it by zeroing its segment-end record.
  ASSERT_TRUE(env.DeleteFile(Seg(numbers.back())).ok());
  uint32_t prev = numbers[numbers.size() - 2];
  SegmentScan scan = testing::ScanFile(&env, kDir, prev);
  std::string image;
  ASSERT_TRUE(env.GetContents(Seg(prev), &image).ok());
  std::fill(image.begin() + static_cast<long>(scan.valid_end - log::kSegmentEndRecordSize),
            image.begin() + static_cast<long>(scan.valid_end), '\0');
  ASSERT_TRUE(env.SetContents(Seg(prev), image).ok());
  Status s = TryOpen(&env);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.ToString().find(SegmentFileName(numbers.back())), std::string::npos) << s.ToString();
}

TEST(StoreMarker, ADamagedMarkerIsCorruption) {
  MemEnv env;
  MakeStore(&env);
  std::string data;
  ASSERT_TRUE(env.GetContents(MarkerPath(), &data).ok());
  data[20] ^= 1;
  ASSERT_TRUE(env.SetContents(MarkerPath(), data).ok());
  EXPECT_TRUE(TryOpen(&env).IsCorruption());
}

TEST(StoreMarker, AMissingMarkerBesideCurrentSegmentsIsCorruption) {
  MemEnv env;
  MakeStore(&env);
  ASSERT_TRUE(env.DeleteFile(MarkerPath()).ok());
  Status s = TryOpen(&env);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
}

TEST(StoreMarker, ADirectoryThatIsNotAStoreIsNeverTakenForOne) {
  MemEnv env;
  ASSERT_TRUE(env.CreateDir(kDir).ok());
  ASSERT_TRUE(env.SetContents(std::string(kDir) + "/passwd", "root:x:0:0").ok());
  Status s = TryOpen(&env);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find("not an sx store"), std::string::npos) << s.ToString();
  EXPECT_TRUE(SegmentNumbers(&env).empty());
  std::string data;
  EXPECT_FALSE(env.GetContents(MarkerPath(), &data).ok());
}

TEST(StoreMarker, AnOlderStoreWithBlobsButNoSegmentsIsCorruption) {
  MemEnv env;
  {
    auto store = OpenOrDie(MemOptions(&env), kDir);
    std::string cid;
    ASSERT_TRUE(store->BlobPut("a blob", &cid).ok());
  }
  // As a version-2 store would be after losing its segments: no marker.
  ASSERT_TRUE(env.DeleteFile(MarkerPath()).ok());
  for (uint32_t n : SegmentNumbers(&env)) ASSERT_TRUE(env.DeleteFile(Seg(n)).ok());
  Status s = TryOpen(&env);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_TRUE(SegmentNumbers(&env).empty());
}

TEST(StoreMarker, WithoutCreateIfMissingAnEmptyDirectoryIsNotAStore) {
  MemEnv env;
  ASSERT_TRUE(env.CreateDir(kDir).ok());
  Options o = MemOptions(&env);
  o.create_if_missing = false;
  Status s = TryOpen(&env, o);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_TRUE(SegmentNumbers(&env).empty());
  o.read_only = true;
  EXPECT_TRUE(TryOpen(&env, o).IsNotFound());
}

// A store as version 2 left it: no marker, version-2 segment headers.
void MakeVersionTwoStore(MemEnv* env) {
  MakeStore(env, 60, 200);
  ASSERT_TRUE(env->DeleteFile(MarkerPath()).ok());
  for (uint32_t n : SegmentNumbers(env)) {
    std::string image;
    ASSERT_TRUE(env->GetContents(Seg(n), &image).ok());
    EncodeFixed32(image.data() + 8, 2);
    EncodeFixed32(image.data() + 28, crc32c::Value(image.data(), 28));
    ASSERT_TRUE(env->SetContents(Seg(n), image).ok());
  }
}

TEST(StoreMarker, AVersionTwoStoreOpensAndGetsItsMarker) {
  MemEnv env;
  MakeVersionTwoStore(&env);
  Options ro = MemOptions(&env);
  ro.read_only = true;
  std::unique_ptr<Store> store;
  ASSERT_TRUE(Store::Open(ro, kDir, &store).ok());
  EXPECT_EQ(store->LastSeq("s"), 60u);
  store.reset();
  std::string data;
  EXPECT_FALSE(env.GetContents(MarkerPath(), &data).ok()) << "a read-only open wrote";
  store = OpenOrDie(MemOptions(&env), kDir);
  EXPECT_EQ(store->LastSeq("s"), 60u);
  ASSERT_TRUE(env.GetContents(MarkerPath(), &data).ok());
  StoreMarker m;
  ASSERT_TRUE(DecodeStoreMarker(data, &m).ok());
  EXPECT_EQ(m.newest_segment, SegmentNumbers(&env).back());
  store.reset();
  // From now on it is a current store: losing every segment is refused.
  for (uint32_t n : SegmentNumbers(&env)) ASSERT_TRUE(env.DeleteFile(Seg(n)).ok());
  EXPECT_TRUE(TryOpen(&env).IsCorruption());
}

// ---------------------------------------------------------------- growing segments

uint64_t FileSize(MemEnv* env, uint32_t n) {
  uint64_t size = 0;
  EXPECT_TRUE(env->FileSize(Seg(n), &size).ok());
  return size;
}

Options GrowingOptions(MemEnv* env) {
  Options o = MemOptions(env, SyncMode::kNever);  // the memory filesystem copies a file per sync
  o.segment_bytes = 8u << 20;
  return o;
}

void AppendKiB(Store* store, uint64_t kib) {
  for (uint64_t i = 0; i < kib / 10; ++i) {
    ASSERT_TRUE(store->Append("s", store->LastSeq("s") + 1, std::string(10 << 10, 'g')).ok());
  }
}

void ExpectVerifies(Store* store) {
  std::vector<std::string> problems;
  EXPECT_TRUE(store->Verify([&](const std::string& p) { problems.push_back(p); }).ok())
      << (problems.empty() ? "" : problems[0]);
}

TEST(StoreGrowth, ASmallStoreIsASmallFileThatDoublesUpToTheSegmentSize) {
  MemEnv env;
  Options o = GrowingOptions(&env);
  auto store = OpenOrDie(o, kDir);
  for (uint64_t seq = 1; seq <= 12; ++seq) ASSERT_TRUE(store->Append("s", seq, "twelve").ok());
  EXPECT_EQ(FileSize(&env, 1), 1u << 20);
  EXPECT_EQ(store->GetStats().bytes_on_disk, 1u << 20);
  AppendKiB(store.get(), 3000);
  EXPECT_EQ(FileSize(&env, 1), 4u << 20) << "1 MiB, 2, then 4";
  EXPECT_EQ(store->GetStats().segments, 1u);
  AppendKiB(store.get(), 6000);
  EXPECT_EQ(FileSize(&env, 1), 8u << 20) << "no larger than the segment size";
  EXPECT_EQ(FileSize(&env, 2), 1u << 20) << "the next segment starts small again";
  uint64_t hwm = store->LastSeq("s");
  store.reset();
  store = OpenOrDie(o, kDir);
  std::vector<Event> events;
  ASSERT_TRUE(store->Read("s", 0, SIZE_MAX, &events).ok());
  EXPECT_EQ(events.size(), hwm);
  ExpectVerifies(store.get());
}

TEST(StoreGrowth, AGrownSegmentCutBackToASizeItHadIsCorruption) {
  MemEnv env;
  Options o = GrowingOptions(&env);
  {
    auto store = OpenOrDie(o, kDir);
    AppendKiB(store.get(), 1500);
  }
  ASSERT_EQ(FileSize(&env, 1), 2u << 20);
  std::string image;
  ASSERT_TRUE(env.GetContents(Seg(1), &image).ok());
  ASSERT_TRUE(env.SetContents(Seg(1), image.substr(0, 1u << 20)).ok());
  Status s = TryOpen(&env, o);
  ASSERT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("the file is 1048576 bytes, not the 2097152 its log says it has"),
            std::string::npos)
      << s.message();
}

TEST(StoreGrowth, AGrowthACrashKeptOutOfTheLogIsTakenAtTheLoggedSize) {
  MemEnv env;
  Options o = GrowingOptions(&env);
  {
    auto store = OpenOrDie(o, kDir);
    AppendKiB(store.get(), 500);
  }
  // The file was grown, and the crash came before its extent record.
  std::string image;
  ASSERT_TRUE(env.GetContents(Seg(1), &image).ok());
  image.resize(2u << 20);
  ASSERT_TRUE(env.SetContents(Seg(1), image).ok());
  {
    auto store = OpenOrDie(o, kDir);
    EXPECT_EQ(store->GetStats().bytes_on_disk, 1u << 20) << "the size the log gives";
    ExpectVerifies(store.get());
    AppendKiB(store.get(), 1000);  // past 1 MiB: the growth is logged first
    EXPECT_EQ(store->GetStats().segments, 1u);
  }
  ASSERT_TRUE(env.GetContents(Seg(1), &image).ok());
  SegmentScan scan;
  ASSERT_TRUE(ScanSegment(
                  image, 1, [](const RecordView&) { return Status::OK(); }, &scan)
                  .ok());
  EXPECT_EQ(scan.capacity, 2u << 20);
  ASSERT_TRUE(env.SetContents(Seg(1), image.substr(0, 1u << 20)).ok());
  EXPECT_TRUE(TryOpen(&env, o).IsCorruption()) << "a cut below the logged size shows";
}

TEST(StoreGrowth, AVersionThreeStoreKeepsItsSegmentsAndNewOnesGrow) {
  MemEnv env;
  MakeStore(&env, 10, 200);  // 4096-byte segments, made at full size
  uint32_t newest = SegmentNumbers(&env).back();
  for (uint32_t n : SegmentNumbers(&env)) {
    std::string image;
    ASSERT_TRUE(env.GetContents(Seg(n), &image).ok());
    EncodeFixed32(image.data() + 8, 3);
    EncodeFixed32(image.data() + 28, crc32c::Value(image.data(), 28));
    ASSERT_TRUE(env.SetContents(Seg(n), image).ok());
  }
  std::string data;
  ASSERT_TRUE(env.GetContents(MarkerPath(), &data).ok());
  StoreMarker m;
  ASSERT_TRUE(DecodeStoreMarker(data, &m).ok());
  m.version = 3;
  ASSERT_TRUE(env.SetContents(MarkerPath(), EncodeStoreMarker(m)).ok());
  Options o = GrowingOptions(&env);
  auto store = OpenOrDie(o, kDir);
  EXPECT_EQ(store->LastSeq("s"), 10u);
  AppendKiB(store.get(), 20);
  EXPECT_EQ(FileSize(&env, newest), 4096u) << "a version-3 segment never grows";
  uint32_t next = SegmentNumbers(&env).back();
  ASSERT_GT(next, newest);
  EXPECT_EQ(FileSize(&env, next), 1u << 20);
  store.reset();
  store = OpenOrDie(o, kDir);
  EXPECT_EQ(store->LastSeq("s"), 12u);
  ExpectVerifies(store.get());
}

// ---------------------------------------------------------------- the tail

// The newest segment and where its last record lies: [start, end).
struct LastRecord {
  uint32_t segment;
  uint64_t start;
  uint64_t end;
};
LastRecord FindLastRecord(MemEnv* env) {
  uint32_t n = SegmentNumbers(env).back();
  std::string image;
  EXPECT_TRUE(env->GetContents(Seg(n), &image).ok());
  LastRecord last{n, 0, 0};
  SegmentScan scan;
  EXPECT_TRUE(ScanSegment(
                  image, n,
                  [&](const RecordView& rec) {
                    last.start = rec.offset;
                    last.end = rec.offset + log::kRecordHeaderSize + rec.body.size();
                    return Status::OK();
                  },
                  &scan)
                  .ok());
  return last;
}

void Damage(MemEnv* env, uint32_t segment, const std::function<void(std::string*)>& fn) {
  std::string image;
  ASSERT_TRUE(env->GetContents(Seg(segment), &image).ok());
  fn(&image);
  ASSERT_TRUE(env->SetContents(Seg(segment), image).ok());
}

TEST(StoreTail, AFlippedByteInTheNewestRecordIsCorruptionNotATornTail) {
  MemEnv env;
  MakeStore(&env, 5, 300, /*crash=*/true);
  LastRecord last = FindLastRecord(&env);
  // The last record is the kv-put; damage its middle, its length intact.
  Damage(&env, last.segment,
         [&](std::string* image) { (*image)[(last.start + last.end) / 2] ^= 0x04; });
  std::vector<RecoveryNote> notes;
  Options o = MemOptions(&env);
  o.on_recovery_problem = [&](const RecoveryNote& n) { notes.push_back(n); };
  std::unique_ptr<Store> store;
  Status s = Store::Open(o, kDir, &store);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(
      s.ToString().find(SegmentFileName(last.segment) + " at offset " + std::to_string(last.start)),
      std::string::npos)
      << s.ToString();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_FALSE(notes[0].torn_tail);
}

TEST(StoreTail, AnImpossibleTypeByteAtTheTailIsCorruption) {
  MemEnv env;
  MakeStore(&env, 5, 300, /*crash=*/true);
  LastRecord last = FindLastRecord(&env);
  Damage(&env, last.segment, [&](std::string* image) { (*image)[last.start + 8] = 0x77; });
  EXPECT_TRUE(TryOpen(&env).IsCorruption());
}

TEST(StoreTail, AHalfWrittenLastRecordIsCutAndSaysHowManyBytes) {
  MemEnv env;
  MakeStore(&env, 5, 300, /*crash=*/true);
  LastRecord last = FindLastRecord(&env);
  uint64_t half = (last.start + last.end) / 2;
  Damage(&env, last.segment, [&](std::string* image) {
    std::fill(image->begin() + static_cast<long>(half),
              image->begin() + static_cast<long>(last.end), '\0');
  });
  std::vector<RecoveryNote> notes;
  Options o = MemOptions(&env);
  o.on_recovery_problem = [&](const RecoveryNote& n) { notes.push_back(n); };
  std::unique_ptr<Store> store;
  ASSERT_TRUE(Store::Open(o, kDir, &store).ok());
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_TRUE(notes[0].torn_tail);
  EXPECT_EQ(notes[0].offset, last.start);
  EXPECT_NE(notes[0].what.find(std::to_string(half - last.start) + " bytes"), std::string::npos)
      << notes[0].what;
  EXPECT_EQ(store->GetStats().recovered_torn_bytes, half - last.start);
  EXPECT_FALSE(store->KvHas("k"));
}

TEST(StoreTail, ZeroedFinalRecordsOfACleanlyClosedStoreAreCorruption) {
  MemEnv env;
  MakeStore(&env, 5, 300);
  LastRecord last = FindLastRecord(&env);
  // The whole last record, header and all: no trace of it is left.
  Damage(&env, last.segment, [&](std::string* image) {
    std::fill(image->begin() + static_cast<long>(last.start),
              image->begin() + static_cast<long>(last.end), '\0');
  });
  Status s = TryOpen(&env);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.ToString().find("records at its end are gone"), std::string::npos) << s.ToString();
  std::ostringstream out, err;
  EXPECT_EQ(RunStoreTool({"verify", kDir}, out, err, &env), 1) << out.str() << err.str();
}

TEST(StoreTail, ACleanCloseIsForgottenOnceAWriterOpensTheStore) {
  MemEnv env;
  MakeStore(&env);
  {
    auto store = OpenOrDie(MemOptions(&env), kDir);
    ASSERT_TRUE(store->Append("s", 6, "more").ok());
    std::string data;
    ASSERT_TRUE(env.GetContents(MarkerPath(), &data).ok());
    StoreMarker m;
    ASSERT_TRUE(DecodeStoreMarker(data, &m).ok());
    EXPECT_EQ(m.clean_end, 0u) << "while a writer has the store";
  }
  auto store = OpenOrDie(MemOptions(&env), kDir);
  EXPECT_EQ(store->LastSeq("s"), 6u);
}

TEST(StoreTail, VerifyNeverSaysOkOverBytesAnOpenWouldCut) {
  MemEnv env;
  MakeStore(&env, 5, 300, /*crash=*/true);
  LastRecord last = FindLastRecord(&env);
  uint64_t half = (last.start + last.end) / 2;
  Damage(&env, last.segment, [&](std::string* image) {
    std::fill(image->begin() + static_cast<long>(half),
              image->begin() + static_cast<long>(last.end), '\0');
  });
  std::ostringstream out, err;
  EXPECT_EQ(RunStoreTool({"verify", kDir}, out, err, &env), 3) << out.str() << err.str();
  std::string want = SegmentFileName(last.segment) + " offset " + std::to_string(last.start) +
                     ": torn tail: " + std::to_string(half - last.start) + " bytes";
  EXPECT_NE(out.str().find(want), std::string::npos) << out.str();
  EXPECT_EQ(out.str().find("ok:"), std::string::npos) << out.str();
}

// ---------------------------------------------------------------- a new directory

// A file that remembers the largest single read made of it.
class ReadLog final : public File {
 public:
  ReadLog(std::unique_ptr<File> base, uint64_t* largest)
      : base_(std::move(base)), largest_(largest) {}
  Status ReadAt(uint64_t offset, size_t n, std::string* out) override {
    *largest_ = std::max<uint64_t>(*largest_, n);
    return base_->ReadAt(offset, n, out);
  }
  Status WriteAt(uint64_t offset, std::string_view data) override {
    return base_->WriteAt(offset, data);
  }
  Status Append(std::string_view data) override { return base_->Append(data); }
  Status Sync() override { return base_->Sync(); }
  Status Size(uint64_t* size) override { return base_->Size(size); }
  Status Truncate(uint64_t size) override { return base_->Truncate(size); }
  Status Preallocate(uint64_t len, bool zero_fill) override {
    return base_->Preallocate(len, zero_fill);
  }

 private:
  std::unique_ptr<File> base_;
  uint64_t* largest_;
};

// Records the directories synced and the largest read, and passes every
// call on to a MemEnv.
class SyncDirLog final : public Env {
 public:
  explicit SyncDirLog(MemEnv* base) : base_(base) {}
  Status OpenFile(const std::string& path, OpenMode mode, std::unique_ptr<File>* out) override {
    std::unique_ptr<File> file;
    Status s = base_->OpenFile(path, mode, &file);
    if (s.ok()) *out = std::make_unique<ReadLog>(std::move(file), &largest_read);
    return s;
  }
  Status RenameFile(const std::string& from, const std::string& to) override {
    return base_->RenameFile(from, to);
  }
  Status DeleteFile(const std::string& path) override { return base_->DeleteFile(path); }
  Status ListDir(const std::string& dir, std::vector<std::string>* names) override {
    return base_->ListDir(dir, names);
  }
  Status CreateDir(const std::string& dir) override {
    created.push_back(dir);
    return base_->CreateDir(dir);
  }
  bool DirExists(const std::string& dir) override { return base_->DirExists(dir); }
  Status SyncDir(const std::string& dir) override {
    if (!created.empty() && created.front() == "/data/db" && synced.empty()) first = dir;
    synced.push_back(dir);
    return base_->SyncDir(dir);
  }
  Status FileSize(const std::string& path, uint64_t* size) override {
    return base_->FileSize(path, size);
  }
  Status LockFile(const std::string& path, std::unique_ptr<FileLock>* lock) override {
    return base_->LockFile(path, lock);
  }

  std::vector<std::string> created, synced;
  std::string first;
  uint64_t largest_read = 0;  // bytes, of one ReadAt

 private:
  MemEnv* base_;
};

TEST(StoreCreate, TheParentOfANewDataDirectoryIsSyncedFirst) {
  MemEnv mem;
  ASSERT_TRUE(mem.CreateDir("/data").ok());
  SyncDirLog env(&mem);
  Options o = MemOptions(&mem);
  o.env = &env;
  auto store = OpenOrDie(o, "/data/db");
  ASSERT_FALSE(env.created.empty());
  EXPECT_EQ(env.created.front(), "/data/db");
  EXPECT_EQ(env.first, "/data") << "the first directory synced";
  ASSERT_TRUE(store->Append("s", 1, "x").ok());
}

TEST(StoreOpen, OpeningReadsAWindowAtATimeNotTheWholeSegment) {
  MemEnv mem;
  Options o = MemOptions(&mem, SyncMode::kNever);  // the memory filesystem copies a file per sync
  o.segment_bytes = 16u << 20;
  {
    auto store = OpenOrDie(o, kDir);
    for (uint64_t seq = 1; seq <= 2000; ++seq) {
      ASSERT_TRUE(store->Append("s", seq, std::string(1000, 'p')).ok());
    }
    ASSERT_TRUE(store->Sync().ok());
  }
  SyncDirLog env(&mem);
  o.env = &env;
  auto store = OpenOrDie(o, kDir);
  EXPECT_EQ(store->LastSeq("s"), 2000u);
  EXPECT_LE(env.largest_read, 1u << 20) << "one read of " << env.largest_read << " bytes";
  std::vector<std::string> problems;
  EXPECT_TRUE(store->Verify([&](const std::string& p) { problems.push_back(p); }).ok());
  EXPECT_LE(env.largest_read, 1u << 20) << "verify: one read of " << env.largest_read << " bytes";
}

}  // namespace
}  // namespace sx::store
