#include <gtest/gtest.h>

#include <string>

#include "host/store/cid.h"
#include "host/store/coding.h"
#include "host/store/crc32c.h"
#include "host/store/log_record.h"
#include "host/store/sha256.h"
#include "host/store/status.h"

namespace sx::store {
namespace {

TEST(Crc32c, MatchesKnownCheckValue) {
  EXPECT_EQ(crc32c::Value("123456789"), 0xe3069283u);
  EXPECT_EQ(crc32c::ExtendPortable(0, "123456789", 9), 0xe3069283u);
  std::string zeros(32, '\0');
  EXPECT_EQ(crc32c::Value(zeros), 0x8a9136aau);  // RFC 3720 test vector
}

TEST(Crc32c, HardwareAndTableAgreeOnEveryLengthAndAlignment) {
  std::string data;
  for (int i = 0; i < 300; ++i) data += static_cast<char>(i * 7 + 3);
  for (size_t start = 0; start < 9; ++start) {
    for (size_t len = 0; start + len <= data.size(); len += 13) {
      EXPECT_EQ(crc32c::Value(data.data() + start, len),
                crc32c::ExtendPortable(0, data.data() + start, len));
    }
  }
}

TEST(Crc32c, ExtendEqualsWhole) {
  std::string a = "hello ", b = "world";
  EXPECT_EQ(crc32c::Extend(crc32c::Value(a), b.data(), b.size()), crc32c::Value(a + b));
}

TEST(Sha256, NistVectors) {
  EXPECT_EQ(Sha256::Hex(Sha256::Hash("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256::Hex(Sha256::Hash("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256::Hex(Sha256::Hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256::Hex(Sha256::Hash(
                "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
                "klmnopqrlmnopqrsmnopqrstnopqrstu")),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  Sha256 h;
  std::string chunk(1000, 'a');
  for (int i = 0; i < 1000; ++i) h.Update(chunk);
  EXPECT_EQ(Sha256::Hex(h.Finish()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, IncrementalEqualsOneShotAtEverySplit) {
  std::string data(200, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i);
  for (size_t split = 0; split <= data.size(); ++split) {
    Sha256 h;
    h.Update(data.substr(0, split));
    h.Update(data.substr(split));
    ASSERT_EQ(h.Finish(), Sha256::Hash(data)) << split;
  }
}

TEST(Cid, HelloWorldMatchesIpfs) {
  EXPECT_EQ(CidForBytes("hello world\n"),
            "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4");
}

TEST(Cid, ParseRoundTripsAndRejectsOthers) {
  std::string cid = CidForBytes("abc");
  Sha256::Digest d;
  ASSERT_TRUE(ParseRawSha256Cid(cid, &d));
  EXPECT_EQ(d, Sha256::Hash("abc"));
  EXPECT_FALSE(ParseRawSha256Cid("", &d));
  std::string other = cid;
  other[0] = 'Q';
  EXPECT_FALSE(ParseRawSha256Cid(other, &d));
  EXPECT_FALSE(ParseRawSha256Cid(cid.substr(0, 58), &d));
  EXPECT_FALSE(ParseRawSha256Cid("../../etc/passwd", &d));
}

TEST(Base32, Rfc4648Vectors) {
  EXPECT_EQ(Base32Lower(""), "");
  EXPECT_EQ(Base32Lower("f"), "my");
  EXPECT_EQ(Base32Lower("fo"), "mzxq");
  EXPECT_EQ(Base32Lower("foo"), "mzxw6");
  EXPECT_EQ(Base32Lower("foob"), "mzxw6yq");
  EXPECT_EQ(Base32Lower("fooba"), "mzxw6ytb");
  EXPECT_EQ(Base32Lower("foobar"), "mzxw6ytboi");
  std::string back;
  ASSERT_TRUE(DecodeBase32Lower("mzxw6ytboi", &back));
  EXPECT_EQ(back, "foobar");
}

TEST(Varint, RoundTripsBoundaries) {
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 16383ull, 16384ull, ~0ull}) {
    std::string s;
    PutVarint64(&s, v);
    EXPECT_EQ(s.size(), VarintLength(v));
    std::string_view in = s;
    uint64_t out;
    ASSERT_TRUE(GetVarint64(&in, &out));
    EXPECT_EQ(out, v);
    EXPECT_TRUE(in.empty());
  }
  std::string_view truncated("\x80", 1);
  uint64_t out;
  EXPECT_FALSE(GetVarint64(&truncated, &out));
}

TEST(Status, ToStringNamesCodeAndConflictNumbers) {
  EXPECT_EQ(Status::OK().ToString(), "OK");
  EXPECT_EQ(Status::NotFound("x").ToString(), "NotFound: x");
  Status c = Status::Conflict("seq 3", 8, 7);
  EXPECT_TRUE(c.IsConflict());
  EXPECT_EQ(c.expected(), 8u);
  EXPECT_EQ(c.actual(), 7u);
  EXPECT_EQ(c.ToString(), "Conflict: seq 3 (expected 8, actual 7)");
  EXPECT_EQ(Status::IOError("disk").WithContext("append").message(), "append: disk");
}

TEST(Result, HoldsValueOrStatus) {
  Result<int> r = 5;
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 5);
  Result<int> e = Status::NotFound("no");
  EXPECT_FALSE(e.ok());
  EXPECT_TRUE(e.status().IsNotFound());
}

TEST(LogRecord, ZeroBytesAreNeverARecord) {
  std::string image = EncodeSegmentHeader(1) + std::string(4096, '\0');
  SegmentScan scan;
  int records = 0;
  ASSERT_TRUE(ScanSegment(image, 1, [&](const RecordView&) { ++records; return Status::OK(); },
                          &scan).ok());
  EXPECT_EQ(records, 0);
  EXPECT_EQ(scan.end, SegmentScan::End::kClean);
  EXPECT_EQ(scan.valid_end, log::kSegmentHeaderSize);
}

TEST(LogRecord, BuilderOutputScansBackWithEveryOp) {
  std::string image = EncodeSegmentHeader(7);
  RecordBuilder b(&image);
  b.Begin(log::kBatchRecord);
  size_t at = b.AddAppend(std::string("s\0t", 3), 5, "payload");
  b.AddKvPut("k", "v");
  b.AddKvDelete("gone");
  b.AddTruncate("s", 4);
  b.AddStreamMeta("m", 9, 3);
  b.Finish();
  b.AddSegmentEnd(7);
  EXPECT_EQ(image.substr(at, 7), "payload");
  SegmentScan scan;
  std::vector<OpView> ops;
  ASSERT_TRUE(ScanSegment(image, 7,
                          [&](const RecordView& r) {
                            if (r.type != log::kBatchRecord) return Status::OK();
                            OpReader reader(r.body);
                            OpView op;
                            while (reader.Next(&op)) ops.push_back(op);
                            return reader.status();
                          },
                          &scan)
                  .ok());
  EXPECT_EQ(scan.end, SegmentScan::End::kSealed);
  ASSERT_EQ(ops.size(), 5u);
  EXPECT_EQ(ops[0].name, std::string("s\0t", 3));
  EXPECT_EQ(ops[0].seq, 5u);
  EXPECT_EQ(ops[0].value, "payload");
  EXPECT_EQ(ops[1].value, "v");
  EXPECT_EQ(ops[2].tag, log::kKvDeleteOp);
  EXPECT_EQ(ops[3].seq, 4u);
  EXPECT_EQ(ops[4].seq, 9u);
  EXPECT_EQ(ops[4].seq2, 3u);
}

TEST(LogRecord, SegmentNamesRoundTrip) {
  uint32_t n;
  EXPECT_EQ(SegmentFileName(42), "0000000042.seg");
  ASSERT_TRUE(ParseSegmentFileName("0000000042.seg", &n));
  EXPECT_EQ(n, 42u);
  EXPECT_FALSE(ParseSegmentFileName("0000000042.seg.tmp", &n));
  EXPECT_FALSE(ParseSegmentFileName("LOCK", &n));
  EXPECT_FALSE(ParseSegmentFileName("0000000000.seg", &n));
}

TEST(EscapeBytes, EscapesNonPrintables) {
  EXPECT_EQ(EscapeBytes(std::string("a\0\"\\\n", 5)), "a\\x00\\\"\\\\\\n");
  EXPECT_EQ(EscapeBytes("\xc3\xa9", 0, true), "\xc3\xa9");
  EXPECT_EQ(EscapeBytes("\xc3\xa9", 0, false), "\\xc3\\xa9");
  EXPECT_EQ(EscapeBytes("\xff", 0, true), "\\xff");
  EXPECT_EQ(EscapeBytes("abcdef", 3), "abc...");
}

}  // namespace
}  // namespace sx::store
