// limits_test.cc — what bounds an SX program meets, and the errors it gets:
// names in error messages cut to a readable length, runaway macro expansion,
// running out of memory.
#include <gtest/gtest.h>

#include <new>
#include <span>
#include <string>

#include "interp/heap.h"
#include "interp/state.h"
#include "sx/sx.h"

namespace sx {
namespace {

namespace ix = interp;

// A string of n bytes made of `piece` repeated, in SX.
std::string Repeat(const std::string& piece, size_t times) {
  return "(apply str (map (fn (_) \"" + piece + "\") (range " + std::to_string(times) + ")))";
}

std::string ErrorOf(Interpreter& in, const std::string& src) {
  Outcome o = in.Eval(src);
  EXPECT_EQ(o.status, Status::kError) << src;
  return o.status == Status::kError ? o.value.ErrorMessage() : "<no error>";
}

bool ValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

// --- long names in messages -----------------------------------------------------------

constexpr size_t kMiB = 1 << 20;

TEST(Limits, BriefCutsALongStringAndSaysHowLongItWas) {
  Interpreter in;
  Outcome o = in.Eval(Repeat("abcdefghijklmnop", kMiB / 16));
  ASSERT_EQ(o.status, Status::kDone) << o.error_text;
  std::string b = o.value.Brief();
  EXPECT_LT(b.size(), 120u) << b;
  EXPECT_EQ(b.substr(0, 17), "\"abcdefghijklmnop");
  EXPECT_NE(b.find("(1048576 bytes)"), std::string::npos) << b;
  EXPECT_EQ(in.String("short").Brief(), "\"short\"");
  std::string sixty(60, 'x');  // as long as a name may be and still be shown whole
  std::string quoted = '"' + sixty;
  quoted += '"';
  EXPECT_EQ(in.String(sixty).Brief(), quoted);
}

TEST(Limits, BriefNeverCutsACharacterInTwo) {
  Interpreter in;
  for (size_t lead = 0; lead < 4; ++lead) {
    std::string s = std::string(lead, 'a');
    for (int i = 0; i < 100; ++i) s += "\xe2\x82\xac";  // the euro sign: 3 bytes
    std::string b = in.String(s).Brief();
    EXPECT_TRUE(ValidUtf8(b)) << b;
    std::string note = std::to_string(s.size()) + " bytes)";
    EXPECT_NE(b.find(note), std::string::npos) << b;
  }
}

TEST(Limits, BriefCutsLongSymbolsAndKeywords) {
  Interpreter in;
  std::string name(5000, 'q');
  std::string sym = in.Symbol(name).Brief();
  std::string kw = in.Keyword(name).Brief();
  EXPECT_LT(sym.size(), 120u) << sym;
  EXPECT_LT(kw.size(), 120u) << kw;
  EXPECT_EQ(sym.substr(0, 3), "qqq");
  EXPECT_EQ(kw.substr(0, 3), ":qq");
  EXPECT_NE(sym.find("(5000 bytes)"), std::string::npos) << sym;
  EXPECT_NE(kw.find("(5000 bytes)"), std::string::npos) << kw;
}

TEST(Limits, ErrorsAboutAOneMebibyteNameShowAShortCut) {
  Interpreter in;
  ASSERT_EQ(in.Eval("(define big " + Repeat("abcdefghijklmnop", kMiB / 16) + ")").status,
            Status::kDone);
  std::string unbound = ErrorOf(in, std::string(kMiB, 'u'));
  EXPECT_LT(unbound.size(), 200u) << unbound.substr(0, 300);
  EXPECT_NE(unbound.find("unbound symbol: uuuu"), std::string::npos) << unbound.substr(0, 300);
  EXPECT_NE(unbound.find("(1048576 bytes)"), std::string::npos) << unbound.substr(0, 300);

  std::string set = ErrorOf(in, "(set! " + std::string(kMiB, 's') + " 1)");
  EXPECT_LT(set.size(), 200u) << set.substr(0, 300);
  EXPECT_NE(set.find("(1048576 bytes)"), std::string::npos) << set.substr(0, 300);

  std::string call = ErrorOf(in, "((string->symbol big))");
  EXPECT_LT(call.size(), 200u) << call.substr(0, 300);
  EXPECT_NE(call.find("(1048576 bytes)"), std::string::npos) << call.substr(0, 300);

  Outcome o = in.Run(in.Eval("(perform {:op big})"));
  ASSERT_EQ(o.status, Status::kError);
  std::string op = o.value.ErrorMessage();
  EXPECT_LT(op.size(), 200u) << op.substr(0, 300);
  EXPECT_NE(op.find("no handler for op \"abcdefghijklmnop"), std::string::npos)
      << op.substr(0, 300);
  EXPECT_NE(op.find("(1048576 bytes)"), std::string::npos) << op.substr(0, 300);
  EXPECT_LT(o.error_text.size(), 2000u) << o.error_text.substr(0, 300);

  std::string bad = ErrorOf(in, "(read-string (str \"1\" big))");
  EXPECT_LT(bad.size(), 200u) << bad.substr(0, 300);
  EXPECT_NE(bad.find("bytes)"), std::string::npos) << bad.substr(0, 300);

  std::string key = ErrorOf(in, "(serialize {big (fn () 1)})");
  EXPECT_LT(key.size(), 200u) << key.substr(0, 300);
  EXPECT_NE(key.find("(1048576 bytes)"), std::string::npos) << key.substr(0, 300);

  std::string arg = ErrorOf(in, "(+ 1 big)");
  EXPECT_LT(arg.size(), 200u) << arg.substr(0, 300);
  EXPECT_NE(arg.find("(1048576 bytes)"), std::string::npos) << arg.substr(0, 300);
}

TEST(Limits, AnImportOfAOneMebibyteNameSaysItShortly) {
  Interpreter in;
  std::string name(kMiB, 'm');
  std::string e = ErrorOf(in, "(import \"" + name + "\")");
  EXPECT_LT(e.size(), 200u) << e.substr(0, 300);
  EXPECT_NE(e.find("(1048576 bytes)"), std::string::npos) << e.substr(0, 300);
}

// --- macros that expand into themselves ----------------------------------------------

TEST(Limits, AMacroThatExpandsIntoItselfForeverIsAnError) {
  const char* cases[] = {
      "(defmacro m () '(m)) (m)",        // in tail position: no stack grows
      "(defmacro m () '(+ 1 (m))) (m)",  // nested
      "(defmacro m (x) (list 'm (list 'quote (list x)))) (m 1)",  // each form larger
  };
  for (const char* src : cases) {
    Interpreter in;
    std::string e = ErrorOf(in, src);
    EXPECT_NE(e.find("macro expansion deeper than 10000"), std::string::npos) << src << ": " << e;
    EXPECT_NE(e.find("(m"), std::string::npos) << src << ": " << e;
  }
}

TEST(Limits, GuardCatchesARunawayMacroAndTheInterpreterGoesOn) {
  Interpreter in;
  Outcome o = in.Eval(
      "(defmacro m () '(m))"
      "(guard (e (true (error-message e))) (m))");
  ASSERT_EQ(o.status, Status::kDone) << o.error_text;
  EXPECT_NE(o.value.AsString().find("macro expansion deeper than"), std::string::npos);
  EXPECT_EQ(in.Eval("(+ 1 2)").value.AsInt(), 3);
}

// A macro that recurses over its arguments expands once per argument: deep,
// but finite, and within the limit it works.
constexpr const char* kMyOr =
    "(defmacro my-or (&rest xs)"
    "  (if (empty? xs) false (list 'if (first xs) (first xs) (cons 'my-or (rest xs)))))";

TEST(Limits, ARecursiveMacroWithinTheLimitExpands) {
  Interpreter in;
  ASSERT_EQ(in.Eval(kMyOr).status, Status::kDone);
  std::string call = "(my-or";
  for (int i = 0; i < 2000; ++i) call += " false";
  call += " 7)";
  Outcome o = in.Eval(call);
  ASSERT_EQ(o.status, Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.AsInt(), 7);
}

TEST(Limits, TheMacroDepthLimitIsSetByTheEmbedder) {
  Interpreter in;
  Limits limits;
  limits.max_macro_depth = 50;
  in.SetLimits(limits);
  ASSERT_EQ(in.Eval(kMyOr).status, Status::kDone);
  auto call = [](int n) {
    std::string c = "(my-or";
    for (int i = 0; i < n; ++i) c += " false";
    return c + " 7)";
  };
  EXPECT_EQ(in.Eval(call(40)).value.AsInt(), 7);
  EXPECT_NE(ErrorOf(in, call(60)).find("macro expansion deeper than 50"), std::string::npos);
}

// --- out of memory ---------------------------------------------------------------------
//
// The heap's test switch fails allocations: FailAllocationAfter(n) the nth
// from now, FailAllocationsFrom(n) the nth and every one after it, as memory
// that has run out stays out until something is freed.

constexpr const char* kWork = R"(
  (define (work n)
    (let ((xs (map (fn (i) {:i i :s (str "item-" i) :l (list i (* i i))}) (range n))))
      (len (filter (fn (d) (even? (get d :i))) xs))))
)";

bool IsOutOfMemory(const Outcome& o) {
  if (o.status == Status::kError)
    return o.value.IsError() && o.value.ErrorMessage() == "out of memory";
  return o.status == Status::kDone && o.value.IsString() && o.value.AsString() == "out of memory";
}

TEST(Limits, EveryFailedAllocationIsTheErrorOutOfMemoryAndGuardCatchesIt) {
  Interpreter in;
  ASSERT_EQ(in.Eval(kWork).status, Status::kDone);
  ix::Heap& heap = in.state().heap;
  int caught = 0;
  for (size_t n = 1; n <= 400; ++n) {
    heap.FailAllocationAfter(n);
    Outcome o = in.Eval("(guard (e (true (error-message e))) (work 50))");
    heap.FailAllocationAfter(0);
    if (o.status == Status::kDone && o.value.IsInt()) {
      EXPECT_EQ(o.value.AsInt(), 25);
      continue;
    }
    EXPECT_TRUE(IsOutOfMemory(o)) << "allocation " << n << ": " << o.error_text
                                  << (o.status == Status::kDone ? o.value.Inspect() : "");
    if (o.status == Status::kDone) ++caught;
  }
  EXPECT_GT(caught, 300) << "guard caught the error in too few of the cases";
  EXPECT_EQ(in.Eval("(work 50)").value.AsInt(), 25);
}

TEST(Limits, MemoryThatStaysExhaustedStillEndsInOutOfMemoryNeverACrash) {
  Interpreter in;
  ASSERT_EQ(in.Eval(kWork).status, Status::kDone);
  ix::Heap& heap = in.state().heap;
  for (size_t n = 1; n <= 400; n += 3) {
    heap.FailAllocationsFrom(n);
    Outcome o = in.Eval("(guard (e (true (error-message e))) (work 50))");
    heap.FailAllocationsFrom(0);
    EXPECT_TRUE(IsOutOfMemory(o)) << "allocations from " << n << ": " << o.error_text;
    EXPECT_EQ(in.Eval("(work 20)").value.AsInt(), 10) << "after allocations from " << n;
  }
}

// From inside the guard's body every allocation fails, and goes on failing
// while the error unwinds and the handler runs: none of it may allocate.
TEST(Limits, OutOfMemoryIsCaughtWhenNothingMoreCanBeAllocated) {
  Interpreter in;
  ix::Heap& heap = in.state().heap;
  in.DefineNative("exhaust-memory", 0, 0, "(exhaust-memory) — every allocation fails from now.",
                  [&heap](Interpreter& in, std::span<const Value>) {
                    heap.FailAllocationsFrom(1);
                    return in.Nil();
                  });
  ASSERT_EQ(in.Eval(kWork).status, Status::kDone);
  Outcome o = in.Eval("(guard (e (true (error-message e))) (exhaust-memory) (work 50))");
  heap.FailAllocationsFrom(0);
  ASSERT_EQ(o.status, Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.AsString(), "out of memory");
  EXPECT_EQ(in.Eval("(work 50)").value.AsInt(), 25);
}

TEST(Limits, AnUncaughtOutOfMemoryEndsTheRunWithItsMessage) {
  Interpreter in;
  ASSERT_EQ(in.Eval(kWork).status, Status::kDone);
  in.state().heap.FailAllocationAfter(200);
  Outcome o = in.Eval("(work 50)");
  in.state().heap.FailAllocationAfter(0);
  ASSERT_EQ(o.status, Status::kError);
  EXPECT_EQ(o.value.ErrorMessage(), "out of memory");
  EXPECT_NE(o.error_text.find("out of memory"), std::string::npos) << o.error_text;
}

TEST(Limits, AnIoHandlerThatRunsOutOfMemoryFailsItsRequestsWithOutOfMemory) {
  Interpreter in;
  in.AddBatchIoHandler([](Interpreter&, std::span<IoRequest> batch) {
    for (IoRequest& q : batch) {
      if (q.op == "t/batch") throw std::bad_alloc();
    }
  });
  in.AddIoHandler([](Interpreter&, std::string_view op, const Value&, const Value&) -> IoResult {
    if (op == "t/one") throw std::bad_alloc();
    return IoResult::Pass();
  });
  Outcome o = in.Run(in.Eval(R"(
    (define (try op) (guard (e (true (error-message e))) (perform {:op op})))
    (list (try "t/one") (try "t/batch")
          (map await (list (spawn (fn () (try "t/batch"))) (spawn (fn () (try "t/one")))))))"));
  ASSERT_EQ(o.status, Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Inspect(),
            "(\"out of memory\" \"out of memory\" (\"out of memory\" \"out of memory\"))");
}

// --- source files --------------------------------------------------------------------

TEST(Limits, OnlyARegularFileIsReadAsSource) {
  Interpreter in;
  Outcome dir = in.EvalFile("/");
  ASSERT_EQ(dir.status, Status::kError);
  EXPECT_EQ(dir.value.ErrorMessage(), "cannot read /: it is a directory");
  Outcome dev = in.EvalFile("/dev/null");
  ASSERT_EQ(dev.status, Status::kError);
  EXPECT_EQ(dev.value.ErrorMessage(), "cannot read /dev/null: not a regular file");
  Outcome load = in.Eval("(guard (e (true (error-message e))) (load \"/dev/zero\"))");
  ASSERT_EQ(load.status, Status::kDone) << load.error_text;
  EXPECT_EQ(load.value.AsString(), "load: cannot read /dev/zero: not a regular file");
}

}  // namespace
}  // namespace sx
