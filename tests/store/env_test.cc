// The test Envs themselves: MemEnv's durability model and FaultEnv's faults;
// and File::Read into a caller's scratch, on each Env.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "host/store/fault_env.h"
#include "host/store/mem_env.h"

namespace sx::store {
namespace {

TEST(MemEnv, UnsyncedBytesAreLostInAPowerCut) {
  MemEnv env;
  ASSERT_TRUE(env.CreateDir("/d").ok());
  std::unique_ptr<File> f;
  ASSERT_TRUE(env.OpenFile("/d/f", OpenMode::kCreate, &f).ok());
  ASSERT_TRUE(env.SyncDir("/d").ok());
  ASSERT_TRUE(f->Append("durable").ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(f->Append("-lost").ok());
  env.DropUnsynced();
  std::string data;
  ASSERT_TRUE(env.GetContents("/d/f", &data).ok());
  EXPECT_EQ(data, "durable");
}

TEST(MemEnv, CreationAndRenameNeedADirectorySync) {
  MemEnv env;
  ASSERT_TRUE(env.CreateDir("/d").ok());
  std::unique_ptr<File> f;
  ASSERT_TRUE(env.OpenFile("/d/new", OpenMode::kCreate, &f).ok());
  ASSERT_TRUE(f->Append("x").ok());
  ASSERT_TRUE(f->Sync().ok());
  env.DropUnsynced();
  std::string data;
  EXPECT_TRUE(env.GetContents("/d/new", &data).IsNotFound());

  ASSERT_TRUE(env.OpenFile("/d/a", OpenMode::kCreate, &f).ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(env.SyncDir("/d").ok());
  ASSERT_TRUE(env.RenameFile("/d/a", "/d/b").ok());
  env.DropUnsynced();
  EXPECT_TRUE(env.GetContents("/d/a", &data).ok());
  EXPECT_TRUE(env.GetContents("/d/b", &data).IsNotFound());
}

TEST(MemEnv, LockIsExclusiveUntilReleased) {
  MemEnv env;
  std::unique_ptr<FileLock> a, b;
  ASSERT_TRUE(env.LockFile("/LOCK", &a).ok());
  Status s = env.LockFile("/LOCK", &b);
  EXPECT_TRUE(s.IsLocked());
  EXPECT_EQ(s.message().rfind("store is locked by pid ", 0), 0u);
  a.reset();
  EXPECT_TRUE(env.LockFile("/LOCK", &b).ok());
}

TEST(FaultEnv, FailsTheNthMatchingCallOnce) {
  MemEnv mem;
  FaultEnv env(&mem);
  std::unique_ptr<File> f;
  ASSERT_TRUE(env.OpenFile("/f", OpenMode::kCreate, &f).ok());
  env.FailAt(2, FaultKind::kSyncFail);
  ASSERT_TRUE(f->Append("a").ok());  // call 1: not a sync
  ASSERT_TRUE(f->Append("b").ok());  // call 2: not a sync, fault waits
  EXPECT_TRUE(f->Sync().IsIOError());
  EXPECT_TRUE(f->Sync().ok());
  EXPECT_TRUE(env.fired());
}

TEST(FaultEnv, ShortWriteStoresHalfAndNoSpaceStoresNothing) {
  MemEnv mem;
  FaultEnv env(&mem);
  std::unique_ptr<File> f;
  ASSERT_TRUE(env.OpenFile("/f", OpenMode::kCreate, &f).ok());
  env.FailAt(1, FaultKind::kShortWrite);
  EXPECT_TRUE(f->WriteAt(0, "abcdef").IsIOError());
  std::string data;
  ASSERT_TRUE(mem.GetContents("/f", &data).ok());
  EXPECT_EQ(data, "abc");
  env.FailAt(1, FaultKind::kNoSpace);
  EXPECT_TRUE(f->WriteAt(3, "xyz").IsNoSpace());
  ASSERT_TRUE(mem.GetContents("/f", &data).ok());
  EXPECT_EQ(data, "abc");
}

TEST(FaultEnv, StickyFaultKeepsFailing) {
  MemEnv mem;
  FaultEnv env(&mem);
  std::unique_ptr<File> f;
  ASSERT_TRUE(env.OpenFile("/f", OpenMode::kCreate, &f).ok());
  env.FailAt(1, FaultKind::kIOError, /*sticky=*/true);
  EXPECT_FALSE(f->Append("a").ok());
  EXPECT_FALSE(f->Sync().ok());
  EXPECT_FALSE(env.RenameFile("/f", "/g").ok());
  env.Disarm();
  EXPECT_TRUE(f->Append("a").ok());
}

// Read gives what ReadAt gives, fewer bytes only at the end of the file,
// and never writes into scratch past what it read.
void ExpectReadIntoScratchLikeReadAt(Env* env, const std::string& path) {
  std::unique_ptr<File> f;
  ASSERT_TRUE(env->OpenFile(path, OpenMode::kCreateTrunc, &f).ok());
  ASSERT_TRUE(f->Append("0123456789").ok());
  std::string scratch(16, '#');
  std::string_view got;
  ASSERT_TRUE(f->Read(2, 5, scratch.data(), &got).ok());
  EXPECT_EQ(got, "23456");
  EXPECT_EQ(got.data(), scratch.data());
  ASSERT_TRUE(f->Read(8, 5, scratch.data(), &got).ok());
  EXPECT_EQ(got, "89");
  EXPECT_EQ(scratch.substr(2), std::string(14, '#').replace(0, 3, "456"));
  ASSERT_TRUE(f->Read(10, 4, scratch.data(), &got).ok());
  EXPECT_TRUE(got.empty());
  std::string bytes;
  ASSERT_TRUE(f->ReadAt(8, 5, &bytes).ok());
  EXPECT_EQ(bytes, "89");
  // Opened read-only, a File may answer from its own memory (a mapping):
  // the same bytes, fewer only at the end, also after the file was cut.
  ASSERT_TRUE(env->OpenFile(path, OpenMode::kReadOnly, &f).ok());
  ASSERT_TRUE(f->Read(2, 5, scratch.data(), &got).ok());
  EXPECT_EQ(got, "23456");
  ASSERT_TRUE(f->Read(8, 5, scratch.data(), &got).ok());
  EXPECT_EQ(got, "89");
  std::unique_ptr<File> writer;
  ASSERT_TRUE(env->OpenFile(path, OpenMode::kReadWrite, &writer).ok());
  ASSERT_TRUE(writer->Truncate(4).ok());
  ASSERT_TRUE(f->Read(2, 5, scratch.data(), &got).ok());
  EXPECT_EQ(got, "23");
  ASSERT_TRUE(f->Read(6, 2, scratch.data(), &got).ok());
  EXPECT_TRUE(got.empty());
  ASSERT_TRUE(writer->Append("4567").ok());
  ASSERT_TRUE(f->Read(2, 5, scratch.data(), &got).ok());
  EXPECT_EQ(got, "23456");
}

TEST(Env, ReadIsReadAtWithoutABuffer) {
  MemEnv mem;
  ExpectReadIntoScratchLikeReadAt(&mem, "/f");
  FaultEnv fault(&mem);
  ExpectReadIntoScratchLikeReadAt(&fault, "/g");
  std::string dir = (std::filesystem::temp_directory_path() / "sx-env-XXXXXX").string();
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  ExpectReadIntoScratchLikeReadAt(Env::Default(), dir + "/f");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sx::store
