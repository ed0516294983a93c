// export_test.cc — sx store export / import (every value exact, byte-identical
// round trip, seqs that go backwards refused, JSON as RapidJSON wrote it), import of the reference
// host's data directory, backup beside a running writer, and salvage of a
// store with a flipped byte in the middle.
#include "host/tools/export.h"

#include <gtest/gtest.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>

#include "host/ops/value_codec.h"
#include "host/store/backup.h"
#include "host/store/store.h"
#include "host/store/tools.h"
#include "host/tools/json_out.h"
#include "sx/sx.h"

namespace sx::tools {
namespace {

namespace fs = std::filesystem;

class ExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "sx-export-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string Path(const std::string& name) { return root_ + "/" + name; }

  std::unique_ptr<store::Store> Open(const std::string& dir, uint64_t segment_bytes = 64 << 20) {
    store::Options o;
    o.sync = store::SyncMode::kNever;
    o.segment_bytes = segment_bytes;
    std::unique_ptr<store::Store> s;
    store::Status st = store::Store::Open(o, dir, &s);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return s;
  }

  std::string Encode(const Value& v) {
    std::string out, error;
    EXPECT_TRUE(host::EncodeValue(in_, v, &out, &error)) << error;
    return out;
  }

  Value Eval(const std::string& src) {
    Outcome o = in_.Run(in_.Eval(src));
    EXPECT_EQ(o.status, Status::kDone) << src << ": " << o.error_text;
    return o.value;
  }

  std::string Export(const std::string& dir, ExportOptions options = {}) {
    std::ostringstream out, err;
    EXPECT_EQ(ExportStore(dir, options, out, err), 0) << err.str();
    return out.str();
  }

  int Import(const std::string& dir, const std::string& text, std::string* err_text = nullptr) {
    std::istringstream in(text);
    std::ostringstream err;
    ImportReport report;
    int rc = ImportStore(dir, in, false, &report, err);
    if (err_text) *err_text = err.str();
    return rc;
  }

  // Every kind of value the store holds.
  std::vector<Value> Values() {
    const double kInf = std::numeric_limits<double>::infinity();
    std::vector<Value> v;
    for (const char* src :
         {"nil", "true", "false", "()", "0", "1", "-1", "42", "\"\"", "\"hi\"", ":k", ":|odd key|",
          "'sym", "(string->symbol \"a b\")", "{}",
          "(list 1 (list 2 (list 3 ())) {:a {:b (list {:c nil})}} \"s\" 1.5 :k)",
          "{:stream \"orders\" :seq 7 :type \"placed\" :at 1700000000 :data {:id 7}}",
          "{\"\" 1 \"a b\" 2 \"z\" (list) \"nul\\0key\" 3}", "(list nil nil ())"}) {
      v.push_back(Eval(src));
    }
    for (int64_t n : {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
                      int64_t{1} << 53, (int64_t{1} << 53) + 1}) {
      v.push_back(in_.Int(n));
    }
    for (double d : {0.0, -0.0, 1.5, 0.1, 1e300, 5e-324, std::numeric_limits<double>::max(), kInf,
                     -kInf, std::nan("")}) {
      v.push_back(in_.Float(d));
    }
    for (std::string s : {std::string("a\0b", 3), std::string("\xff\xfe\x80", 3),
                          std::string("caf\xc3\xa9"), std::string("\x01control")}) {
      v.push_back(in_.String(s));
      v.push_back(in_.Keyword(s));
      v.push_back(in_.Symbol(s));
    }
    std::vector<std::pair<std::string, Value>> odd_keys = {
        {std::string("\xff", 1), in_.Int(1)}, {std::string("k\0", 2), in_.Float(-0.0)}};
    v.push_back(in_.Dict(odd_keys));
    // Nested deep (the codec's limit is 10000).
    Value deep = in_.Int(1);
    for (int i = 0; i < 2000; ++i) deep = in_.List(std::vector<Value>{deep});
    v.push_back(deep);
    return v;
  }

  std::string root_;
  Interpreter in_;
};

TEST_F(ExportTest, EveryValueRoundTripsAndASecondExportIsByteIdentical) {
  std::vector<Value> values = Values();
  std::string src = Path("src");
  {
    auto st = Open(src);
    for (size_t i = 0; i < values.size(); ++i) {
      ASSERT_TRUE(st->Append("values", i + 1, Encode(values[i])).ok());
      ASSERT_TRUE(st->KvPut("key" + std::to_string(i), Encode(values[i])).ok());
    }
    // Names with any bytes; a payload that is no stored value; a stream
    // whose every event was truncated; a value in the old text form.
    ASSERT_TRUE(st->Append(std::string("a/b\0c\xff", 6), 5, Encode(in_.Int(5))).ok());
    ASSERT_TRUE(st->KvPut(std::string("\0k\xfe", 3), Encode(in_.Int(6))).ok());
    ASSERT_TRUE(st->Append("raw", 1, std::string("\x7f\x00\xff", 3)).ok());
    ASSERT_TRUE(st->Append("gone", 9, Encode(in_.Int(9))).ok());
    ASSERT_TRUE(st->TruncateThrough("gone", 9).ok());
    ASSERT_TRUE(st->Append("text", 1, "{:a (1 2.5 \"x\")}").ok());
  }
  std::string first = Export(src);
  EXPECT_EQ(first.substr(0, first.find('\n')), "{\"format\":\"sx-store-export\",\"version\":1}");
  std::string err;
  ASSERT_EQ(Import(Path("copy"), first, &err), 0) << err;
  std::string second = Export(Path("copy"));
  EXPECT_EQ(first, second);

  auto copy = Open(Path("copy"));
  std::vector<store::Event> events;
  ASSERT_TRUE(copy->Read("values", 1, 1000, &events).ok());
  ASSERT_EQ(events.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    SCOPED_TRACE(values[i].Brief());
    Value back;
    std::string error;
    ASSERT_TRUE(host::DecodeValue(in_, events[i].payload, &back, &error)) << error;
    EXPECT_EQ(events[i].payload, Encode(values[i])) << "import writes the codec's own bytes";
    EXPECT_EQ(Encode(back), Encode(values[i]));
    EXPECT_EQ(back.TypeName(), values[i].TypeName());
    if (values[i].IsFloat()) {
      EXPECT_EQ(std::signbit(back.AsDouble()), std::signbit(values[i].AsDouble()));
      EXPECT_EQ(std::isnan(back.AsDouble()), std::isnan(values[i].AsDouble()));
    }
    std::string kv;
    ASSERT_TRUE(copy->KvGet("key" + std::to_string(i), &kv).ok());
    EXPECT_EQ(kv, events[i].payload);
  }
  ASSERT_TRUE(copy->Read("raw", 1, 10, &events).ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].payload, std::string("\x7f\x00\xff", 3));
  EXPECT_EQ(copy->LastSeq("gone"), 9u);
  EXPECT_EQ(copy->FirstSeq("gone"), 10u);
  EXPECT_EQ(copy->LastSeq(std::string("a/b\0c\xff", 6)), 5u);
  EXPECT_TRUE(copy->KvHas(std::string("\0k\xfe", 3)));
  // A value in the old text form exports as its binary twin does.
  EXPECT_NE(first.find("{\"kind\":\"event\",\"stream\":\"text\",\"seq\":1,\"value\":{\"dict\":"
                       "{\"a\":[1,{\"float\":\"2.5\"},\"x\"]}}}"),
            std::string::npos)
      << first;
}

// Exports written before JsonOut came from RapidJSON's Writer: the same
// calls give the same bytes (every byte in a string, the integer limits).
TEST(JsonOut, WritesWhatRapidJsonsWriterWrites) {
  std::string every_byte;
  for (int c = 0; c < 256; ++c) every_byte.push_back(static_cast<char>(c));
  const std::string strings[] = {"", "plain", "\"q\" \\ /", every_byte, "caf\xc3\xa9 \x7f"};
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> rj(buf);
  JsonOut out;
  rj.StartObject();
  out.StartObject();
  for (const std::string& s : strings) {
    rj.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    out.Key(s);
    rj.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    out.String(s);
  }
  rj.Key("numbers");
  out.Key("numbers");
  rj.StartArray();
  out.StartArray();
  for (int64_t n : {int64_t{0}, int64_t{-1}, int64_t{42}, std::numeric_limits<int64_t>::min(),
                    std::numeric_limits<int64_t>::max()}) {
    rj.Int64(n);
    out.Int64(n);
  }
  rj.Uint64(std::numeric_limits<uint64_t>::max());
  out.Uint64(std::numeric_limits<uint64_t>::max());
  rj.StartArray();
  out.StartArray();
  rj.EndArray();
  out.EndArray();
  rj.StartObject();
  out.StartObject();
  rj.EndObject();
  out.EndObject();
  rj.Null();
  out.Null();
  rj.Bool(true);
  out.Bool(true);
  rj.Bool(false);
  out.Bool(false);
  rj.EndArray();
  out.EndArray();
  rj.EndObject();
  out.EndObject();
  EXPECT_EQ(std::string(out.data(), out.size()), std::string(buf.GetString(), buf.GetSize()));
}

TEST(JsonOut, ALineTruncatedOrEndedStartsANewText) {
  JsonOut out;
  out.StartObject();
  out.Key("a");
  out.Int64(1);
  out.EndObject();
  out.NewLine();
  size_t mark = out.size();
  out.StartObject();
  out.Key("dropped");
  out.Truncate(mark);
  out.StartObject();
  out.RawThroughKey("\"b\":");
  out.Int64(2);
  out.Key("c");
  out.Null();
  out.EndObject();
  EXPECT_EQ(std::string(out.data(), out.size()), "{\"a\":1}\n{\"b\":2,\"c\":null}");
}

TEST_F(ExportTest, StreamAndKvSelection) {
  {
    auto st = Open(Path("src"));
    ASSERT_TRUE(st->Append("a", 1, Encode(in_.Int(1))).ok());
    ASSERT_TRUE(st->Append("b", 1, Encode(in_.Int(2))).ok());
    ASSERT_TRUE(st->KvPut("k", Encode(in_.Int(3))).ok());
  }
  ExportOptions only_b;
  only_b.streams = {"b"};
  std::string out = Export(Path("src"), only_b);
  EXPECT_EQ(out.find("\"stream\":\"a\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"stream\":\"b\""), std::string::npos) << out;
  EXPECT_EQ(out.find("\"kind\":\"kv\""), std::string::npos) << out;
  ExportOptions kv_only;
  kv_only.kv = true;
  kv_only.events = false;
  out = Export(Path("src"), kv_only);
  EXPECT_EQ(out.find("\"kind\":\"stream\""), std::string::npos) << out;
  EXPECT_NE(out.find("{\"kind\":\"kv\",\"key\":\"k\",\"value\":3}"), std::string::npos) << out;
}

TEST_F(ExportTest, ImportRefusesSeqsThatGoBackwards) {
  {
    auto st = Open(Path("dst"));
    ASSERT_TRUE(st->Append("s", 5, Encode(in_.Int(5))).ok());
  }
  std::string text =
      "{\"format\":\"sx-store-export\",\"version\":1}\n"
      "{\"kind\":\"event\",\"stream\":\"t\",\"seq\":1,\"value\":1}\n"
      "{\"kind\":\"event\",\"stream\":\"s\",\"seq\":5,\"value\":5}\n";
  std::string err;
  EXPECT_EQ(Import(Path("dst"), text, &err), 1);
  EXPECT_NE(err.find("line 3"), std::string::npos) << err;
  EXPECT_NE(err.find("not above the last seq 5"), std::string::npos) << err;
  auto st = Open(Path("dst"));
  EXPECT_EQ(st->LastSeq("t"), 1u) << "what came before the refused line stays";
  EXPECT_EQ(Import(Path("x"), "{\"format\":\"other\",\"version\":1}\n", &err), 1);
  EXPECT_NE(err.find("not an export"), std::string::npos) << err;
  EXPECT_EQ(Import(Path("y"), "{\"format\":\"sx-store-export\",\"version\":2}\n", &err), 1);
  EXPECT_NE(err.find("version 2"), std::string::npos) << err;
}

std::string Hex(std::string_view s) {
  std::string out;
  char buf[3];
  for (unsigned char c : s) {
    std::snprintf(buf, sizeof(buf), "%02x", c);
    out += buf;
  }
  return out;
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary);
  f << data;
}

TEST_F(ExportTest, ImportsTheReferenceHostsDataDirectory) {
  std::string ra = Path("rose");
  fs::create_directories(ra + "/streams");
  fs::create_directories(ra + "/kv");
  fs::create_directories(ra + "/blobs");
  std::string slashed = "orders/eu", nul("a\0b", 3);
  WriteFile(ra + "/streams/" + Hex(slashed) + ".log",
            "{:stream \"orders/eu\" :seq 1 :type \"placed\" :at 100 :data {:id 1}}\n"
            "{:stream \"orders/eu\" :seq 2 :type \"paid\" :at 101 :data {:id 1 :sum 2.5}}\n");
  WriteFile(ra + "/streams/" + Hex(slashed) + ".seq", "2\n");
  WriteFile(ra + "/streams/" + Hex(nul) + ".log", "{:seq 3 :data nil}\n");
  WriteFile(ra + "/streams/" + Hex(nul) + ".seq", "3");
  // Every event truncated: an empty log, and the mark.
  WriteFile(ra + "/streams/" + Hex("done") + ".log", "");
  WriteFile(ra + "/streams/" + Hex("done") + ".seq", "4\n");
  WriteFile(ra + "/kv/" + Hex("config/main"), "{:depth 3 :tags (\"x\" \"y\")}");
  WriteFile(ra + "/kv/" + Hex(std::string("k\0", 2)), "42");
  WriteFile(ra + "/blobs/some-blob", "blob bytes");

  // Opened as a store, it is an error that names the import command.
  std::ostringstream out, err;
  EXPECT_EQ(store::RunStoreTool({"stats", ra}, out, err), 1);
  EXPECT_NE(err.str().find("sx store import NEWDIR --from rose-ash"), std::string::npos)
      << err.str();
  EXPECT_FALSE(fs::exists(ra + "/STORE"));

  ImportReport report;
  ASSERT_EQ(ImportRoseAsh(Path("dst"), ra, false, &report, err), 0) << err.str();
  EXPECT_EQ(report.events, 3u);
  EXPECT_EQ(report.kv, 2u);
  EXPECT_EQ(report.blobs, 1u);
  auto st = Open(Path("dst"));
  std::vector<store::Event> events;
  ASSERT_TRUE(st->Read(slashed, 1, 10, &events).ok());
  ASSERT_EQ(events.size(), 2u);
  Value e;
  std::string error;
  ASSERT_TRUE(host::DecodeValue(in_, events[1].payload, &e, &error)) << error;
  EXPECT_EQ(e.Inspect(), Eval("{:stream \"orders/eu\" :seq 2 :type \"paid\" :at 101 "
                              ":data {:id 1 :sum 2.5}}")
                             .Inspect());
  EXPECT_EQ(st->LastSeq(nul), 3u);
  EXPECT_EQ(st->LastSeq("done"), 4u) << "the .seq high-water mark is kept";
  EXPECT_EQ(st->FirstSeq("done"), 5u);
  ASSERT_TRUE(st->Read(nul, 1, 10, &events).ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].seq, 3u);
  std::string kv;
  ASSERT_TRUE(st->KvGet(std::string("k\0", 2), &kv).ok());
  ASSERT_TRUE(host::DecodeValue(in_, kv, &e, &error));
  EXPECT_EQ(e.AsInt(), 42);
  ASSERT_TRUE(st->KvGet("config/main", &kv).ok());
  std::string bytes;
  std::string cid;
  ASSERT_TRUE(st->BlobPut("blob bytes", &cid).ok());
  ASSERT_TRUE(st->BlobGet(cid, &bytes).ok());
  EXPECT_EQ(st->GetStats().blobs, 1u);
}

TEST_F(ExportTest, BackupBesideARunningWriterVerifiesAndHoldsAPrefix) {
  std::string src = Path("live");
  auto writer = Open(src, 16 << 10);  // small segments: rolls during the backup
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> written{0};
  std::thread t([&] {
    for (uint64_t seq = 1; !stop; ++seq) {
      ASSERT_TRUE(
          writer->Append("s", seq, std::string(100, static_cast<char>('a' + seq % 26))).ok());
      written = seq;
      if (seq % 50 == 0) {
        ASSERT_TRUE(writer->KvPut("at", std::to_string(seq)).ok());
      }
    }
  });
  while (written < 2000) std::this_thread::yield();
  store::BackupReport report;
  store::Status s = store::BackupStore(store::Env::Default(), src, Path("copy"), &report);
  stop = true;
  t.join();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(report.verify_problems.empty());
  EXPECT_GT(report.segments_linked, 0u);
  writer.reset();

  std::ostringstream out, err;
  EXPECT_EQ(store::RunStoreTool({"verify", Path("copy")}, out, err), 0) << out.str() << err.str();
  auto copy = Open(Path("copy"));
  auto orig = Open(src);
  uint64_t n = copy->LastSeq("s");
  EXPECT_GE(n, 2000u);
  EXPECT_LE(n, orig->LastSeq("s"));
  std::vector<store::Event> a, b;
  ASSERT_TRUE(copy->Read("s", 1, n + 1, &a).ok());
  ASSERT_TRUE(orig->Read("s", 1, n, &b).ok());
  ASSERT_EQ(a.size(), n) << "no gaps";
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].seq, b[i].seq);
    ASSERT_EQ(a[i].payload, b[i].payload);
  }
}

TEST_F(ExportTest, ExportBesideARunningWriterGivesAPrefixThatImports) {
  std::string src = Path("live");
  auto writer = Open(src, 16 << 10);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> written{0};
  std::thread t([&] {
    // At most 50,000 events (about 125 segments of 16 KiB): on a loaded
    // machine an unbounded writer made segments faster than the export's
    // open could list them, until the process ran out of file descriptors.
    for (uint64_t seq = 1; !stop && seq <= 50000; ++seq) {
      store::Status s = writer->Append("s", seq, Encode(in_.Int(static_cast<int64_t>(seq))));
      ASSERT_TRUE(s.ok()) << s.ToString();
      written = seq;
    }
  });
  while (written < 1000) std::this_thread::yield();
  std::ostringstream out, err;
  int rc = ExportStore(src, ExportOptions(), out, err);
  stop = true;
  t.join();
  ASSERT_EQ(rc, 0) << err.str();
  ASSERT_EQ(Import(Path("copy"), out.str(), nullptr), 0);
  auto copy = Open(Path("copy"));
  uint64_t n = copy->LastSeq("s");
  EXPECT_GE(n, 1000u);
  std::vector<store::Event> events;
  ASSERT_TRUE(copy->Read("s", 1, n + 1, &events).ok());
  EXPECT_EQ(events.size(), n) << "no gaps";
}

TEST_F(ExportTest, SalvageKeepsEveryRecordBeforeAndAfterAFlippedByte) {
  std::string src = Path("bad");
  std::vector<uint64_t> offsets;
  {
    auto st = Open(src);
    for (uint64_t seq = 1; seq <= 100; ++seq) {
      ASSERT_TRUE(st->Append("s", seq, "payload " + std::to_string(seq)).ok());
    }
    ASSERT_TRUE(st->KvPut("k", "v").ok());
  }
  // Flip a byte inside the record of event 50 (records are equal-sized
  // but for the digits: find it by its payload).
  std::string seg = src + "/0000000001.seg";
  std::string image;
  {
    std::ifstream f(seg, std::ios::binary);
    image.assign(std::istreambuf_iterator<char>(f), {});
  }
  size_t at = image.find("payload 50");
  ASSERT_NE(at, std::string::npos);
  image[at + 3] ^= 0x20;
  WriteFile(seg, image);

  std::ostringstream out, err;
  EXPECT_EQ(store::RunStoreTool({"verify", src}, out, err), 1);
  ASSERT_EQ(store::RunStoreTool({"salvage", src, Path("saved")}, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("lost: 0000000001.seg offset"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("lost: stream \"s\": no event at seq 50 "), std::string::npos)
      << out.str();
  auto saved = Open(Path("saved"));
  std::vector<store::Event> events;
  ASSERT_TRUE(saved->Read("s", 1, 1000, &events).ok());
  ASSERT_EQ(events.size(), 99u);
  for (const store::Event& e : events) {
    EXPECT_NE(e.seq, 50u);
    EXPECT_EQ(e.payload, "payload " + std::to_string(e.seq));
  }
  EXPECT_EQ(events.front().seq, 1u);
  EXPECT_EQ(events.back().seq, 100u);
  std::string v;
  ASSERT_TRUE(saved->KvGet("k", &v).ok());
  EXPECT_EQ(v, "v");
  saved.reset();
  out.str("");
  EXPECT_EQ(store::RunStoreTool({"verify", Path("saved")}, out, err), 0) << out.str();
}

TEST_F(ExportTest, EveryStoreCommandHasHelpAndJson) {
  {
    auto st = Open(Path("db"));
    ASSERT_TRUE(st->Append("s", 1, Encode(in_.Int(1))).ok());
  }
  for (const char* cmd : {"stats", "dump", "verify", "compact", "backup", "salvage"}) {
    std::ostringstream out, err;
    EXPECT_EQ(store::RunStoreTool({cmd, "--help"}, out, err), 0) << cmd;
    EXPECT_NE(out.str().find(std::string("usage: sx store ") + cmd), std::string::npos) << cmd;
  }
  int n = 0;
  for (std::vector<std::string> args : {std::vector<std::string>{"stats", Path("db"), "--json"},
                                        {"verify", Path("db"), "--json"},
                                        {"compact", Path("db"), "--json"},
                                        {"backup", Path("db"), Path("b"), "--json"},
                                        {"salvage", Path("db"), Path("c"), "--json"}}) {
    std::ostringstream out, err;
    EXPECT_EQ(store::RunStoreTool(args, out, err), 0) << args[0] << ": " << err.str();
    std::string o = out.str();
    EXPECT_TRUE(o.size() > 2 && o.front() == '{' && o.substr(o.size() - 2) == "}\n")
        << args[0] << ": " << o;
    ++n;
  }
  EXPECT_EQ(n, 5);
  std::ostringstream out, err;
  ASSERT_EQ(store::RunStoreTool({"stats", Path("db"), "--json"}, out, err), 0);
  EXPECT_NE(out.str().find("\"per_stream\":[{\"stream\":\"s\",\"events\":1,\"first_seq\":1,"
                           "\"last_seq\":1,\"bytes\":"),
            std::string::npos)
      << out.str();
}

}  // namespace
}  // namespace sx::tools
