// The test Envs themselves: MemEnv's durability model and FaultEnv's faults.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace sx::store
