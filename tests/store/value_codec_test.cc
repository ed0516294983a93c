// value_codec_test.cc — the stored value encoding (host/ops/value_codec.h):
// every kind of value round-trips, equal values encode alike, damaged bytes
// are refused, and the text form of older stores still reads — also through
// the persist ops over a store written before the binary encoding.
#include "host/ops/value_codec.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>

#include "host/ops/persist_ops.h"
#include "host/ops/value_format.h"
#include "host/store/store.h"
#include "sx/sx.h"

namespace sx::host {
namespace {

class ValueCodecTest : public ::testing::Test {
 protected:
  Value Eval(const std::string& src) {
    Outcome o = in_.Eval(src);
    EXPECT_EQ(o.status, Status::kDone) << src << ": " << o.error_text;
    return o.value;
  }

  std::string Encode(const Value& v) {
    std::string out, error;
    EXPECT_TRUE(EncodeValue(in_, v, &out, &error)) << error;
    return out;
  }

  Value Decode(std::string_view bytes) {
    Value v;
    std::string error;
    EXPECT_TRUE(DecodeValue(in_, bytes, &v, &error)) << error;
    return v;
  }

  // Decoding the encoding gives a value that prints alike and re-encodes
  // to the same bytes.
  void ExpectRoundTrip(const Value& v) {
    std::string bytes = Encode(v);
    ASSERT_EQ(static_cast<uint8_t>(bytes[0]), value_format::kBinaryV1);
    Value back = Decode(bytes);
    EXPECT_EQ(v.Inspect(), back.Inspect());
    EXPECT_EQ(v.TypeName(), back.TypeName());
    EXPECT_EQ(bytes, Encode(back));
  }

  void ExpectRoundTrip(const std::string& src) {
    SCOPED_TRACE(src);
    ExpectRoundTrip(Eval(src));
  }

  std::string DecodeError(std::string_view bytes) {
    Value v;
    std::string error;
    EXPECT_FALSE(DecodeValue(in_, bytes, &v, &error));
    return error;
  }

  Interpreter in_;
};

TEST_F(ValueCodecTest, AtomsRoundTrip) {
  for (const char* src : {"nil", "true", "false", "()", "0", "1", "-1", "42", "\"\"", "\"hi\"",
                          ":k", ":|odd key|", "'sym", "(string->symbol \"a b\")", "{}"}) {
    ExpectRoundTrip(src);
  }
}

TEST_F(ValueCodecTest, IntegersRoundTripAcrossTheirWholeRange) {
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  for (int64_t n : {int64_t{0}, int64_t{63}, int64_t{-64}, int64_t{64}, (int64_t{1} << 47) - 1,
                    int64_t{1} << 47, -(int64_t{1} << 47), -(int64_t{1} << 47) - 1, kMax, kMin,
                    kMax - 1, kMin + 1}) {
    SCOPED_TRACE(n);
    Value v = in_.Int(n);
    Value back = Decode(Encode(v));
    ASSERT_TRUE(back.IsInt());
    EXPECT_EQ(n, back.AsInt());
  }
}

TEST_F(ValueCodecTest, FloatsRoundTripBitForBit) {
  const double kInf = std::numeric_limits<double>::infinity();
  for (double d : {0.0, -0.0, 1.5, -2.25, 1e300, 5e-324, std::numeric_limits<double>::max(), kInf,
                   -kInf, 0.1}) {
    SCOPED_TRACE(d);
    Value back = Decode(Encode(in_.Float(d)));
    ASSERT_TRUE(back.IsFloat());
    EXPECT_EQ(d, back.AsDouble());
    EXPECT_EQ(std::signbit(d), std::signbit(back.AsDouble()));
  }
  Value nan = Decode(Encode(in_.Float(std::nan(""))));
  ASSERT_TRUE(nan.IsFloat());
  EXPECT_TRUE(std::isnan(nan.AsDouble()));
  // A float is never read back as an integer, nor an integer as a float.
  EXPECT_TRUE(Decode(Encode(in_.Float(3.0))).IsFloat());
  EXPECT_TRUE(Decode(Encode(in_.Int(3))).IsInt());
}

TEST_F(ValueCodecTest, StringsKeepEveryByte) {
  for (std::string s : {std::string(), std::string("a\0b", 3), std::string("\xff\xfe\x80", 3),
                        std::string("caf\xc3\xa9"), std::string(100000, 'x'),
                        std::string("\x01starts with a control byte")}) {
    Value back = Decode(Encode(in_.String(s)));
    ASSERT_TRUE(back.IsString());
    EXPECT_EQ(s, back.AsString());
  }
}

TEST_F(ValueCodecTest, KeywordsSymbolsAndStringsStayApart) {
  Value k = Decode(Encode(in_.Keyword("a")));
  Value s = Decode(Encode(in_.Symbol("a")));
  Value t = Decode(Encode(in_.String("a")));
  EXPECT_TRUE(k.IsKeyword());
  EXPECT_TRUE(s.IsSymbol());
  EXPECT_TRUE(t.IsString());
  EXPECT_NE(Encode(k), Encode(s));
  EXPECT_NE(Encode(s), Encode(t));
}

TEST_F(ValueCodecTest, NestedListsAndDictsRoundTrip) {
  ExpectRoundTrip("(list 1 (list 2 (list 3 ())) {:a {:b (list {:c nil})}} \"s\" 1.5 :k)");
  ExpectRoundTrip(
      "{:stream \"orders\" :seq 7 :type \"placed\" :at 1700000000 :data {:id 7 :items (list 1 "
      "2)}}");
  ExpectRoundTrip("{\"\" 1 \"a b\" 2 \"z\" (list) \"nul\\0key\" 3}");
  ExpectRoundTrip("(list nil nil ())");
}

TEST_F(ValueCodecTest, AValueDeeperThanTheReaderTakesIsRefusedAsSerializeRefusesIt) {
  std::string out = "kept", error;
  Value ok = Eval("(let loop ((i 0) (v 0)) (if (= i 10000) v (loop (+ i 1) (list v))))");
  EXPECT_EQ(ok.Inspect(), Decode(Encode(ok)).Inspect());
  Value deep = Eval("(list (let loop ((i 0) (v 0)) (if (= i 10000) v (loop (+ i 1) (list v)))))");
  EXPECT_FALSE(EncodeValue(in_, deep, &out, &error));
  EXPECT_EQ("nested deeper than 10000", error);
  EXPECT_EQ("kept", out);
  Value deep_dict = Eval("(let loop ((i 0) (v 0)) (if (= i 10001) v (loop (+ i 1) {:d v})))");
  EXPECT_FALSE(EncodeValue(in_, deep_dict, &out, &error));
  EXPECT_EQ("kept", out);
}

TEST_F(ValueCodecTest, DeepNestingNeedsNoCStack) {
  // An embedder may raise the limit; the codec itself walks with a stack of
  // its own, so depth costs heap, not C stack.
  Limits limits = in_.GetLimits();
  limits.max_read_depth = 1000000;
  in_.SetLimits(limits);
  Value deep = Eval("(let loop ((i 0) (v 0)) (if (= i 200000) v (loop (+ i 1) (list v))))");
  std::string bytes = Encode(deep);
  Value back = Decode(bytes);
  EXPECT_EQ(bytes, Encode(back));
  Value deep_dict = Eval("(let loop ((i 0) (v 0)) (if (= i 100000) v (loop (+ i 1) {:d v :i i})))");
  bytes = Encode(deep_dict);
  EXPECT_EQ(bytes, Encode(Decode(bytes)));
}

TEST_F(ValueCodecTest, EqualValuesEncodeAlike) {
  EXPECT_EQ(Encode(Eval("{:a 1 :b 2 :c 3}")), Encode(Eval("(assoc (assoc {:c 3} :b 2) :a 1)")));
  EXPECT_EQ(Encode(Eval("(+ 1 2)")), Encode(in_.Int(3)));
}

TEST_F(ValueCodecTest, AValueWithoutAStoredFormIsRefusedAsSerializeRefusesIt) {
  std::string out = "kept", error;
  EXPECT_FALSE(EncodeValue(in_, Eval("{:f (fn (x) x)}"), &out, &error));
  EXPECT_EQ("cannot serialize a function (at key :f)", error);
  EXPECT_EQ("kept", out);
  EXPECT_FALSE(EncodeValue(in_, Eval("(list 1 first)"), &out, &error));
  EXPECT_EQ("cannot serialize a function (at index 1)", error);
}

TEST_F(ValueCodecTest, TheTextFormOfOlderStoresStillReads) {
  Value v = Decode("{:at 0 :data {:cents 5} :seq 1 :stream \"s\" :type \"placed\"}");
  EXPECT_EQ("{:at 0 :data {:cents 5} :seq 1 :stream \"s\" :type \"placed\"}", v.Inspect());
  EXPECT_EQ("(1 2.5 \"x\")", Decode("(1 2.5 \"x\")").Inspect());
  EXPECT_TRUE(Decode("nil").IsNil());
}

TEST_F(ValueCodecTest, StoredValueIsComparesAcrossBothEncodings) {
  std::string bin = Encode(Eval("{:a 1 :b (list 2)}"));
  EXPECT_TRUE(StoredValueIs(in_, bin, bin));
  EXPECT_TRUE(StoredValueIs(in_, "{:b (2) :a 1}", bin));
  EXPECT_FALSE(StoredValueIs(in_, "{:a 1 :b (3)}", bin));
  EXPECT_FALSE(StoredValueIs(in_, Encode(in_.Int(1)), bin));
  EXPECT_TRUE(StoredValueIs(in_, "nil", Encode(in_.Nil())));
}

TEST_F(ValueCodecTest, DamagedBytesAreRefused) {
  std::string good = Encode(Eval("{:a (list 1 2) :b \"text\"}"));
  for (size_t cut = 1; cut < good.size(); ++cut) {
    SCOPED_TRACE(cut);
    DecodeError(good.substr(0, cut));
  }
  EXPECT_EQ("bad binary value: 1 bytes after the value", DecodeError(good + "x"));
  EXPECT_EQ("bad binary value: unknown tag 99", DecodeError("\x01\x63"));
  EXPECT_EQ("bad binary value: a count of 1000000 with 0 bytes left",
            DecodeError(std::string("\x01\x09\xc0\x84\x3d", 5)));
  EXPECT_EQ("bad binary value: a list of 0 elements", DecodeError(std::string("\x01\x09\x00", 3)));
  EXPECT_EQ("unknown value encoding version 2", DecodeError(std::string("\x02\x00", 2)));
}

// A store written before the binary encoding holds text payloads; the ops
// read them, and a check against such a value (kv-cas) compares values.
TEST(PersistOpsTextStore, AStoreWrittenAsTextOpensAndReads) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "sx-codec-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  std::string dir = tmpl + "/data";
  {
    std::unique_ptr<store::Store> st;
    ASSERT_TRUE(store::Store::Open(store::Options(), dir, &st).ok());
    ASSERT_TRUE(st->Append("s", 1, "{:at 1 :data {:n 1} :seq 1 :stream \"s\" :type \"t\"}").ok());
    ASSERT_TRUE(st->KvPut("k", "{:b (2) :a 1}").ok());
    ASSERT_TRUE(st->KvPut("gone", "nil").ok());
  }
  {
    Interpreter in;
    PersistService service(dir, "always");
    service.Install(in);
    auto run = [&](const std::string& src) {
      Outcome o = in.Run(in.Eval(src));
      EXPECT_EQ(o.status, Status::kDone) << src << ": " << o.error_text;
      return o.value.Inspect();
    };
    run("(define (op name &rest args) (perform {:op name :args args}))");
    EXPECT_EQ("({:at 1 :data {:n 1} :seq 1 :stream \"s\" :type \"t\"})",
              run("(op \"persist/read\" \"s\")"));
    EXPECT_EQ("{:a 1 :b (2)}", run("(op \"persist/kv-get\" \"k\")"));
    EXPECT_EQ("2", run("(op \"persist/kv-cas\" \"k\" {:a 1 :b (list 2)} 2)"));
    EXPECT_EQ(
        "true",
        run("(op \"persist/commit\" (list {:op \"kv-cas\" :key \"k\" :expected 2 :value 3}))"));
    EXPECT_EQ("3", run("(op \"persist/kv-get\" \"k\")"));
    EXPECT_EQ("9", run("(op \"persist/kv-cas\" \"gone\" nil 9)"));
    // New writes go on beside the text ones, in the binary encoding.
    run("(op \"persist/append\" \"s\" {:at 2 :data nil :seq 2 :stream \"s\" :type \"t\"})");
    EXPECT_EQ("(1 2)", run("(map (fn (e) (get e :seq)) (op \"persist/read\" \"s\"))"));
    service.Close();
  }
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace sx::host
