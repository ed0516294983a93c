#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "host/store/cid.h"
#include "host/store/coding.h"
#include "host/store/crc32c.h"
#include "host/store/log_record.h"
#include "host/store/sha256.h"
#include "host/store/status.h"
#include "tests/store/test_util.h"

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
  std::string image = EncodeSegmentHeader(1, 4096) + std::string(4096 - 32, '\0');
  SegmentScan scan;
  int records = 0;
  ASSERT_TRUE(ScanSegment(
                  image, 1,
                  [&](const RecordView&) {
                    ++records;
                    return Status::OK();
                  },
                  &scan)
                  .ok());
  EXPECT_EQ(records, 0);
  EXPECT_EQ(scan.end, SegmentScan::End::kClean);
  EXPECT_EQ(scan.valid_end, log::kSegmentHeaderSize);
}

TEST(LogRecord, BuilderOutputScansBackWithEveryOp) {
  std::string image = EncodeSegmentHeader(7, 4096);
  RecordBuilder b(&image);
  b.Begin(log::kBatchRecord);
  size_t at = b.AddAppend(std::string("s\0t", 3), 5, "payload");
  b.AddKvPut("k", "v");
  b.AddKvDelete("gone");
  b.AddTruncate("s", 4);
  b.AddStreamMeta("m", 9, 3);
  b.Finish();
  b.AddSegmentEnd(7);
  image.resize(4096);
  EXPECT_EQ(image.substr(at, 7), "payload");
  SegmentScan scan;
  std::vector<OpView> ops;
  ASSERT_TRUE(ScanSegment(
                  image, 7,
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

// A segment image: header, the records a builder adds, zeros up to size.
std::string Segment(uint32_t number, size_t size, const std::function<void(RecordBuilder*)>& add,
                    uint32_t version = log::kFormatVersion) {
  std::string image = EncodeSegmentHeader(number, static_cast<uint32_t>(size), version);
  RecordBuilder b(&image);
  add(&b);
  image.resize(size);
  return image;
}

void AddOneAppend(RecordBuilder* b) {
  b->Begin(log::kBatchRecord);
  b->AddAppend("s", 1, "payload");
  b->Finish();
}

TEST(LogRecord, AGrowingSegmentMustBeAsLargeAsItsExtentRecordsSay) {
  // Created at 4096, grown to 8192 (the extent record), then written past 4096.
  std::string image = EncodeSegmentHeader(3, 4096);
  RecordBuilder b(&image);
  AddOneAppend(&b);
  b.AddExtent(8192);
  b.Begin(log::kBatchRecord);
  b.AddAppend("s", 2, std::string(5000, 'p'));  // past the first 4096 bytes
  b.Finish();
  image.resize(8192);
  auto scan_of = [](const std::string& file, int* records) {
    SegmentScan scan;
    *records = 0;
    EXPECT_TRUE(ScanSegment(
                    file, 3,
                    [&](const RecordView&) {
                      ++*records;
                      return Status::OK();
                    },
                    &scan)
                    .ok());
    return scan;
  };
  int records;
  SegmentScan scan = scan_of(image, &records);
  EXPECT_EQ(scan.end, SegmentScan::End::kClean);
  EXPECT_EQ(scan.capacity, 8192u);
  EXPECT_EQ(records, 3) << "the extent record is passed on like any other";
  // Cut back to the size it was created with: the records past it are gone.
  scan = scan_of(image.substr(0, 4096), &records);
  EXPECT_EQ(scan.end, SegmentScan::End::kCorrupt);
  EXPECT_EQ(scan.bad_offset, 4096u);
  EXPECT_NE(scan.reason.find("the file is 4096 bytes, not the 8192 its log says it has: its end "
                             "was cut off"),
            std::string::npos)
      << scan.reason;
  // Larger than logged: a growth whose extent record a crash kept out.
  std::string larger = image;
  larger.resize(16384);
  scan = scan_of(larger, &records);
  EXPECT_EQ(scan.end, SegmentScan::End::kClean) << scan.reason;
}

TEST(LogRecord, AVersionThreeFileOfAnotherSizeThanItsCapacityIsCorruptAfterItsRecords) {
  std::string image = Segment(3, 4096, AddOneAppend, 3);
  for (size_t size : {size_t{100}, size_t{4095}, size_t{4097}}) {
    std::string cut = image;
    cut.resize(size);
    SegmentScan scan;
    int records = 0;
    ASSERT_TRUE(ScanSegment(
                    cut, 3,
                    [&](const RecordView&) {
                      ++records;
                      return Status::OK();
                    },
                    &scan)
                    .ok());
    EXPECT_EQ(records, 1) << "the records before the cut are still passed on";
    EXPECT_EQ(scan.end, SegmentScan::End::kCorrupt) << size;
    EXPECT_EQ(scan.capacity, 4096u);
    EXPECT_EQ(scan.bad_offset, std::min<size_t>(size, 4096));
    EXPECT_NE(scan.reason.find("not the 4096 it was created with"), std::string::npos)
        << scan.reason;
    // Compaction reads only the records: no size check then.
    ASSERT_TRUE(ScanSegment(
                    cut.substr(0, std::min<size_t>(size, 100)), 3,
                    [](const RecordView&) { return Status::OK(); }, &scan,
                    /*whole_file=*/false)
                    .ok());
    EXPECT_EQ(scan.end, SegmentScan::End::kClean);
  }
}

TEST(LogRecord, VersionOneSegmentsAreReadWithoutASizeCheck) {
  std::string image = testing::VersionOneHeader(2);
  RecordBuilder b(&image);
  AddOneAppend(&b);
  image.resize(1000);  // a version-1 file may have any size
  SegmentScan scan;
  int records = 0;
  ASSERT_TRUE(ScanSegment(
                  image, 2,
                  [&](const RecordView&) {
                    ++records;
                    return Status::OK();
                  },
                  &scan)
                  .ok());
  EXPECT_EQ(scan.end, SegmentScan::End::kClean) << scan.reason;
  EXPECT_EQ(scan.version, 1u);
  EXPECT_EQ(records, 1);
}

TEST(LogRecord, HeaderProblemsAreNamed) {
  auto reason = [](std::string image, uint32_t number) {
    SegmentScan scan;
    EXPECT_TRUE(ScanSegment(
                    image, number, [](const RecordView&) { return Status::OK(); }, &scan)
                    .ok());
    EXPECT_EQ(scan.end, SegmentScan::End::kCorrupt);
    return scan.reason;
  };
  std::string good = Segment(4, 4096, [](RecordBuilder*) {});
  EXPECT_EQ(reason(good, 5), "segment header names another segment number");
  std::string future = good;
  EncodeFixed32(future.data() + 8, log::kFormatVersion + 1);
  EncodeFixed32(future.data() + 28, crc32c::Value(future.data(), 28));
  EXPECT_NE(reason(future, 4).find("version " + std::to_string(log::kFormatVersion + 1) +
                                   " is not one this code reads"),
            std::string::npos);
  std::string flipped = good;
  flipped[25] ^= 1;
  EXPECT_EQ(reason(flipped, 4), "bad segment header checksum");
  EXPECT_EQ(reason(good.substr(0, 20), 4), "segment shorter than its header");
}

TEST(LogRecord, RetiredAndBlobRecordsRoundTrip) {
  std::vector<SegmentRange> ranges = {{1, 3}, {5, 5}, {9, 4000000000u}};
  std::string cid = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4";
  std::string image = Segment(9, 4096, [&](RecordBuilder* b) {
    b->AddRetired(ranges);
    b->AddBlob(cid, 12);
  });
  std::vector<SegmentRange> got;
  std::string_view got_cid;
  uint64_t size = 0;
  SegmentScan scan;
  ASSERT_TRUE(ScanSegment(
                  image, 9,
                  [&](const RecordView& r) {
                    if (r.type == log::kRetiredRecord) {
                      EXPECT_TRUE(DecodeRetired(r.body, &got));
                    }
                    if (r.type == log::kBlobRecord) {
                      EXPECT_TRUE(DecodeBlob(r.body, &size, &got_cid));
                    }
                    return Status::OK();
                  },
                  &scan)
                  .ok());
  EXPECT_EQ(scan.end, SegmentScan::End::kClean);
  EXPECT_EQ(got, ranges);
  EXPECT_EQ(got_cid, cid);
  EXPECT_EQ(size, 12u);
}

TEST(LogRecord, MalformedRetiredRangesAreRejected) {
  auto body = [](std::vector<std::pair<uint64_t, uint64_t>> pairs) {
    std::string b;
    for (auto [first, last] : pairs) {
      PutFixed64(&b, first);
      PutFixed64(&b, last);
    }
    return b;
  };
  std::vector<SegmentRange> out;
  EXPECT_TRUE(DecodeRetired(body({{1, 2}, {4, 4}}), &out));
  EXPECT_FALSE(DecodeRetired("", &out));
  EXPECT_FALSE(DecodeRetired(body({{0, 2}}), &out));           // no segment 0
  EXPECT_FALSE(DecodeRetired(body({{3, 2}}), &out));           // backwards
  EXPECT_FALSE(DecodeRetired(body({{1, 4}, {4, 6}}), &out));   // overlapping
  EXPECT_FALSE(DecodeRetired(body({{5, 6}, {1, 2}}), &out));   // unsorted
  EXPECT_FALSE(DecodeRetired(body({{1, 1ull << 32}}), &out));  // beyond u32
  EXPECT_FALSE(DecodeRetired(body({{1, 2}}).substr(0, 12), &out));
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
