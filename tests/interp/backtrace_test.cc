// backtrace_test.cc — where an uncaught error is reported: the headline
// names the innermost place in the user's code, and each line of the
// backtrace names a place and the function it is in, innermost first.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sx/sx.h"

namespace sx {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t nl = text.find('\n', start);
    out.push_back(text.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) return out;
    start = nl + 1;
  }
}

std::string Headline(const Outcome& o) { return Lines(o.error_text)[0]; }

// A library module served as the built-in stdlib serves its own.
const char* kLib =
    "(define (lib/check v)\n"
    "  (if (string? v) v (error \"lib/check: want a string\")))\n"
    "(define (lib/put v)\n"
    "  (lib/check v)\n"
    "  :ok)\n";

void ServeLib(Interpreter& in) {
  in.SetModuleLoader([](std::string_view name, std::string* source) {
    if (name != "lib") return false;
    *source = kLib;
    return true;
  });
}

TEST(Backtrace, AnUnboundSymbolAtTopLevelIsAtItsOwnPlace) {
  Interpreter in;
  Outcome o = in.Eval("(define x 1)\n\n  zzz\n", "t.sx");
  ASSERT_EQ(o.status, Status::kError);
  EXPECT_EQ(Headline(o), "t.sx:3:3: error: unbound symbol: zzz") << o.error_text;
}

TEST(Backtrace, AFormWithNoPlaceIsNamedByItsFileAlone) {
  Interpreter in;
  Outcome o = in.EvalForm(in.Symbol("zzz"), "<repl>");
  ASSERT_EQ(o.status, Status::kError);
  EXPECT_EQ(o.error_text, "<repl>: error: unbound symbol: zzz\n  at <repl>");
}

TEST(Backtrace, AnUnboundSymbolInACallIsAtTheSymbol) {
  Interpreter in;
  Outcome o = in.Eval("(define x 1)\n(print (+ x\n          yy))\n", "t.sx");
  ASSERT_EQ(o.status, Status::kError);
  EXPECT_EQ(Headline(o), "t.sx:3:11: error: unbound symbol: yy") << o.error_text;
}

TEST(Backtrace, EachFrameNamesItsFunctionInnermostFirst) {
  Interpreter in;
  Outcome o = in.Eval(
      "(define (inner n)\n"
      "  (+ n :a))\n"
      "(define (outer n)\n"
      "  (+ 1 (inner n)))\n"
      "(outer 5)\n",
      "t.sx");
  ASSERT_EQ(o.status, Status::kError);
  std::vector<std::string> lines = Lines(o.error_text);
  ASSERT_EQ(lines.size(), 4u) << o.error_text;
  EXPECT_EQ(lines[0], "t.sx:2:3: error: +: argument 2 must be a number, got :a");
  EXPECT_EQ(lines[1], "  at t.sx:2:3 in inner");
  EXPECT_EQ(lines[2], "  at t.sx:4:8 in outer");
  EXPECT_EQ(lines[3], "  at t.sx:5:1");
}

TEST(Backtrace, AnErrorInsideTheStdlibIsHeadlinedAtTheUsersLine) {
  Interpreter in;
  ServeLib(in);
  Outcome o = in.Eval(
      "(import lib)\n"
      "(define (add-order v)\n"
      "  (lib/put v)\n"
      "  :done)\n"
      "(add-order 42)\n",
      "orders.sx");
  ASSERT_EQ(o.status, Status::kError);
  std::vector<std::string> lines = Lines(o.error_text);
  ASSERT_EQ(lines.size(), 5u) << o.error_text;
  EXPECT_EQ(lines[0], "orders.sx:3:3: error: lib/check: want a string");
  EXPECT_EQ(lines[1], "  at <stdlib>/lib.sx:2:21 in lib/check");
  EXPECT_EQ(lines[2], "  at <stdlib>/lib.sx:4:3 in lib/put");
  EXPECT_EQ(lines[3], "  at orders.sx:3:3 in add-order");
  EXPECT_EQ(lines[4], "  at orders.sx:5:1");
}

TEST(Backtrace, AStdlibFunctionCalledInTailPositionStillShowsTheCaller) {
  Interpreter in;
  ServeLib(in);
  Outcome o = in.Eval(
      "(import lib)\n"
      "(define (add-order v)\n"
      "  (lib/put v))\n"
      "(add-order 42)\n",
      "orders.sx");
  ASSERT_EQ(o.status, Status::kError);
  std::vector<std::string> lines = Lines(o.error_text);
  EXPECT_EQ(lines[0], "orders.sx:3:3: error: lib/check: want a string") << o.error_text;
  EXPECT_NE(o.error_text.find("\n  at orders.sx:3:3 in add-order\n"), std::string::npos)
      << o.error_text;
}

TEST(Backtrace, DeepLibraryFramesAreCutButTheUsersLineStays) {
  Interpreter in;
  in.SetModuleLoader([](std::string_view name, std::string* source) {
    if (name != "deep") return false;
    *source =
        "(define (deep/down n)\n"
        "  (if (= n 0) (error \"bottom\") (+ 1 (deep/down (- n 1)))))\n";
    return true;
  });
  Outcome o = in.Eval(
      "(import deep)\n"
      "(define (go)\n"
      "  (deep/down 50)\n"
      "  :never)\n"
      "(go)\n",
      "t.sx");
  ASSERT_EQ(o.status, Status::kError);
  std::vector<std::string> lines = Lines(o.error_text);
  EXPECT_EQ(lines[0], "t.sx:3:3: error: bottom") << o.error_text;
  // Twelve lines from the innermost, then the gap and the user's line.
  ASSERT_EQ(lines.size(), 15u) << o.error_text;
  EXPECT_EQ(lines[12], "  at <stdlib>/deep.sx:2:37 in deep/down") << o.error_text;
  EXPECT_EQ(lines[13], "  ...") << o.error_text;
  EXPECT_EQ(lines[14], "  at t.sx:3:3 in go") << o.error_text;
}

TEST(Backtrace, AnErrorAnsweringAPerformIsAtThePerform) {
  Interpreter in;
  Outcome o =
      in.Run(in.Eval("(define a (+ 1 2))\n"
                     "(define (fetch)\n"
                     "  (perform {:op \"nobody/serves\"}))\n"
                     "(define b (list a a))\n"
                     "(fetch)\n",
                     "t.sx"));
  ASSERT_EQ(o.status, Status::kError);
  EXPECT_EQ(Headline(o), "t.sx:3:3: error: no handler for op \"nobody/serves\"") << o.error_text;
  EXPECT_NE(o.error_text.find("\n  at t.sx:3:3 in fetch"), std::string::npos) << o.error_text;
}

TEST(Backtrace, ANativeThatCalledBackIsPlacedAtItsOwnCall) {
  Interpreter in;
  in.DefineNative("call-then-fail", 1, 1, "(call-then-fail f) calls f, then raises.",
                  [](Interpreter& in, std::span<const Value> args) -> Value {
                    in.CallBack(args[0], {});
                    throw Error("call-then-fail: failed after the callback");
                  });
  Outcome o = in.Eval(
      "(define (cb) (list 1 2))\n"
      "(define (use)\n"
      "  (call-then-fail cb))\n"
      "(use)\n",
      "t.sx");
  ASSERT_EQ(o.status, Status::kError);
  EXPECT_EQ(Headline(o), "t.sx:3:3: error: call-then-fail: failed after the callback")
      << o.error_text;
}

TEST(Backtrace, AnonymousFunctionsAndCallbacksAreNamed) {
  Interpreter in;
  Outcome o = in.Eval(
      "(define (each-twice xs)\n"
      "  (map (fn (x) (* x 2)) xs))\n"
      "(each-twice (list 1 :b))\n",
      "t.sx");
  ASSERT_EQ(o.status, Status::kError);
  std::vector<std::string> lines = Lines(o.error_text);
  ASSERT_GE(lines.size(), 3u) << o.error_text;
  EXPECT_EQ(lines[0], "t.sx:2:16: error: *: argument 1 must be a number, got :b");
  EXPECT_EQ(lines[1], "  at t.sx:2:16 in fn");
  EXPECT_EQ(lines[2], "  at t.sx:2:3 in each-twice");
}

}  // namespace
}  // namespace sx
