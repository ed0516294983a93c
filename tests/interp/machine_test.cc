// machine_test.cc — the machine through the embedding API: evaluation,
// suspension and resumption, errors, limits, natives and collection.
#include <gtest/gtest.h>

#include <string>

#include "sx/sx.h"

namespace sx {
namespace {

Outcome EvalOk(Interpreter& in, const std::string& src) {
  Outcome o = in.Eval(src);
  EXPECT_EQ(o.status, Status::kDone) << o.error_text;
  return o;
}

TEST(Machine, EvaluatesToAValue) {
  Interpreter in;
  EXPECT_EQ(EvalOk(in, "(+ 1 2)").value.AsInt(), 3);
  EXPECT_EQ(EvalOk(in, "(define (f x) (* x x)) (f 12)").value.AsInt(), 144);
  EXPECT_EQ(EvalOk(in, "(list 1 \"a\" :k)").value.Inspect(), "(1 \"a\" :k)");
}

TEST(Machine, PerformSuspendsWithTheRequestAndResumeContinues) {
  Interpreter in;
  Outcome o = in.Eval("(+ 1 (perform {:op \"ask\" :args (list 2)}))");
  ASSERT_EQ(o.status, Status::kSuspended);
  EXPECT_EQ(o.value.Get("op").AsString(), "ask");
  EXPECT_TRUE(in.suspended());
  Outcome r = in.Resume(in.Int(41));
  ASSERT_EQ(r.status, Status::kDone) << r.error_text;
  EXPECT_EQ(r.value.AsInt(), 42);
  EXPECT_FALSE(in.suspended());
}

TEST(Machine, ResumeErrorRaisesAtThePerformWhereGuardCatchesIt) {
  Interpreter in;
  Outcome o =
      in.Eval("(guard (e (true (str \"caught: \" (error-message e)))) (perform {:op \"x\"}))");
  ASSERT_EQ(o.status, Status::kSuspended);
  Outcome r = in.ResumeError("no disk");
  ASSERT_EQ(r.status, Status::kDone) << r.error_text;
  EXPECT_EQ(r.value.AsString(), "caught: no disk");
}

TEST(Machine, ASuspensionIsResumedAtMostOnce) {
  Interpreter in;
  ASSERT_EQ(in.Eval("(perform {:op \"x\"})").status, Status::kSuspended);
  EXPECT_EQ(in.Resume(in.Int(1)).status, Status::kDone);
  Outcome again = in.Resume(in.Int(2));
  EXPECT_EQ(again.status, Status::kError);
  EXPECT_NE(again.error_text.find("nothing is suspended"), std::string::npos);
}

TEST(Machine, RunServesRequestsThroughHandlersInOrder) {
  Interpreter in;
  int asked = 0;
  in.AddIoHandler([&](Interpreter&, std::string_view op, const Value&, const Value&) {
    return op == "first" ? IoResult::Served(in.String("one")) : IoResult::Pass();
  });
  in.AddIoHandler([&](Interpreter& in, std::string_view op, const Value& args, const Value&) {
    if (op != "double") return IoResult::Pass();
    ++asked;
    return IoResult::Served(in.Int(2 * args.Items()[0].AsInt()));
  });
  Outcome o = in.Run(in.Eval(
      "(list (perform {:op \"first\"}) (map (fn (x) (perform {:op \"double\" :args (list x)})) "
      "(list 1 2 3)))"));
  ASSERT_EQ(o.status, Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Inspect(), "(\"one\" (2 4 6))");
  EXPECT_EQ(asked, 3);
}

TEST(Machine, AnUnservedOpIsAnErrorNeverNil) {
  Interpreter in;
  Outcome o = in.Run(in.Eval("(perform {:op \"nobody/serves\" :args ()})"));
  ASSERT_EQ(o.status, Status::kError);
  EXPECT_NE(o.error_text.find("no handler for op \"nobody/serves\""), std::string::npos);
}

TEST(Machine, UncaughtErrorsNameFileLineAndColumn) {
  Interpreter in;
  Outcome o = in.Eval("(define (f x)\n  (+ x \"a\"))\n(f 1)", "demo.sx");
  ASSERT_EQ(o.status, Status::kError);
  EXPECT_NE(o.error_text.find("demo.sx:2:3"), std::string::npos) << o.error_text;
  EXPECT_NE(o.error_text.find("+: argument 2 must be a number"), std::string::npos) << o.error_text;
}

TEST(Machine, ReaderErrorsArePositioned) {
  Interpreter in;
  Outcome o = in.Eval("(+ 1\n  (2", "bad.sx");
  ASSERT_EQ(o.status, Status::kError);
  EXPECT_NE(o.error_text.find("bad.sx:"), std::string::npos) << o.error_text;
}

TEST(Machine, DeepRecursionHitsTheConfigurableLimitAsACatchableError) {
  Interpreter in;
  Limits limits;
  limits.max_frames = 5000;
  in.SetLimits(limits);
  Outcome o = EvalOk(in,
                     "(define (d n) (if (= n 0) 0 (+ 1 (d (- n 1)))))"
                     "(guard (e (true (error-message e))) (d 100000))");
  EXPECT_NE(o.value.AsString().find("stack overflow"), std::string::npos);
  EXPECT_EQ(EvalOk(in, "(d 1000)").value.AsInt(), 1000);
}

TEST(Machine, DefaultLimitAllowsAHundredThousandNestedCalls) {
  Interpreter in;
  EXPECT_EQ(EvalOk(in, "(define (d n) (if (= n 0) 0 (+ 1 (d (- n 1))))) (d 100000)").value.AsInt(),
            100000);
}

TEST(Machine, EmbedderNativesReceiveArgumentsAndRaiseErrors) {
  Interpreter in;
  in.DefineNative("twice", 1, 1, "(twice n) is 2n.", [](Interpreter& in, std::span<const Value> a) {
    if (!a[0].IsInt()) throw Error("twice: argument 1 must be an integer");
    return in.Int(2 * a[0].AsInt());
  });
  EXPECT_EQ(EvalOk(in, "(twice 21)").value.AsInt(), 42);
  EXPECT_EQ(EvalOk(in, "(guard (e (true (error-message e))) (twice \"x\"))").value.AsString(),
            "twice: argument 1 must be an integer");
  EXPECT_EQ(in.Doc("twice"), "(twice n) is 2n.");
  Outcome arity = in.Eval("(twice)");
  EXPECT_EQ(arity.status, Status::kError);
}

TEST(Machine, CallInvokesAFunctionValue) {
  Interpreter in;
  EvalOk(in, "(define (add a b) (+ a b))");
  Value args[] = {in.Int(2), in.Int(3)};
  Outcome o = in.Call(in.Global("add"), args);
  ASSERT_EQ(o.status, Status::kDone);
  EXPECT_EQ(o.value.AsInt(), 5);
}

TEST(Machine, HandlesKeepValuesAliveAcrossCollections) {
  Interpreter in;
  Value kept = EvalOk(in, "(map (fn (i) (str \"item-\" i)) (range 1000))").value;
  EvalOk(
      in,
      "(define (churn n) (if (= n 0) :done (begin (list n n n) (churn (- n 1))))) (churn 2000000)");
  EXPECT_GT(in.heap_stats().collections, 0u);
  EXPECT_EQ(kept.Items()[999].AsString(), "item-999");
}

TEST(Machine, AViewOfAStringStaysPutAcrossCollections) {
  Interpreter in;
  Value big = EvalOk(in, "(apply str (map (fn (i) \"0123456789\") (range 1000)))").value;
  Value small = EvalOk(in, "\"abc\"").value;
  Value key = EvalOk(in, ":name").value;
  std::string_view big_view = big.View(), small_view = small.View();
  const char* big_at = big_view.data();
  EvalOk(in,
         "(define (churn n) (if (= n 0) :done (begin (str n n) (churn (- n 1))))) (churn 500000)");
  EXPECT_GT(in.heap_stats().collections, 0u);
  EXPECT_EQ(big.View().data(), big_at);
  EXPECT_EQ(big_view.size(), 10000u);
  EXPECT_EQ(big_view.substr(9990), "0123456789");
  EXPECT_EQ(small_view, "abc");
  EXPECT_EQ(key.View(), "name");
  EXPECT_THROW(EvalOk(in, "42").value.View(), std::logic_error);
}

TEST(Machine, AMillionSelfReferencingClosuresDoNotGrowMemory) {
  Interpreter in;
  // Each iteration builds a closure that refers to itself (a cycle) and drops it.
  EvalOk(in,
         "(define (spin n)"
         "  (if (= n 0) :done"
         "      (begin (letrec ((self (fn () self))) (self)) (spin (- n 1)))))"
         "(spin 1000000)");
  Interpreter::HeapStats s = in.heap_stats();
  EXPECT_GT(s.collections, 0u);
  EXPECT_LT(s.allocated_bytes, size_t{64} << 20);
}

TEST(Machine, ReturnedFramesAreReusedWithoutACollection) {
  Interpreter in;
  // 1.6 million non-tail calls: about 50 MB of frames were each allocated and
  // left for the collector; a frame nothing captured is reused on return.
  EvalOk(in, "(define (fib n) (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2)))))");
  size_t before = in.heap_stats().collections;
  EXPECT_EQ(EvalOk(in, "(fib 30)").value.AsInt(), 832040);
  EXPECT_EQ(in.heap_stats().collections, before);
  // A captured frame is not reused: each closure still sees its own n.
  EXPECT_EQ(EvalOk(in,
                   "(define (adder n) (fn (x) (+ n x)))"
                   "(define (adders n) (if (= n 0) () (cons (adder n) (adders (- n 1)))))"
                   "(map (fn (f) (f 100)) (adders 3))")
                .value.Inspect(),
            "(103 102 101)");
}

TEST(Machine, AnOpKeepsItsCallersFrameAndGivesBackItsCallbacks) {
  Interpreter in;
  // Each op's callback returns without a frame of its own (a native, a
  // keyword, an op), so the frame current when it returns is still the
  // caller's: it must stay in use. A call with a frame of the same size
  // follows; had the caller's frame gone back to the heap, that call would
  // take it and overwrite `tag`.
  // A native that calls back runs on a fiber and returns like any native.
  in.DefineNative(
      "call-with-1", 1, 1, "(call-with-1 f) — (f 1), from C++.",
      [](Interpreter& in, std::span<const Value> a) {
        Value one = in.Int(1);
        return in.CallBack(a[0], {&one, 1});
      },
      NativeOptions{.calls_back = true});
  EvalOk(in,
         "(define (four a b c d) d)"
         "(define (op-then-keeps op f xs tag) (op f xs) (four 100 100 100 100) tag)");
  for (const char* call : {
           "(op-then-keeps every? string? (list \"a\" \"b\") :kept)",
           "(op-then-keeps some odd? (list 2 4) :kept)",
           "(op-then-keeps map inc (list 1 2) :kept)",
           "(op-then-keeps filter odd? (list 1 2) :kept)",
           "(op-then-keeps reduce + (list 1 2 3) :kept)",
           "(op-then-keeps for-each inc (list 1 2) :kept)",
           "(op-then-keeps sort-by abs (list 2 -1) :kept)",
           "(op-then-keeps map :a (list {:a 1}) :kept)",
           "(op-then-keeps apply every? (list string? (list \"a\")) :kept)",
           "(op-then-keeps map call-with-1 (list inc dec) :kept)",
       }) {
    EXPECT_EQ(EvalOk(in, call).value.Inspect(), ":kept") << call;
  }
  // A closure callback's frame is over when it returns to the op, and goes
  // back to the heap then: 100000 calls leave nothing behind.
  EvalOk(in,
         "(define (id x) x)"
         "(define xs (range 100000))"
         "(define (walk xs) (for-each (fn (x) (id x)) xs) (len xs))");
  auto before = in.heap_stats();
  EXPECT_EQ(EvalOk(in, "(walk xs)").value.AsInt(), 100000);
  auto after = in.heap_stats();
  EXPECT_EQ(after.collections, before.collections);
  EXPECT_LT(after.allocated_bytes - before.allocated_bytes, size_t{1} << 20);
}

TEST(Machine, AssocOnALargeDictSharesStructure) {
  Interpreter in;
  EvalOk(in,
         "(define big (reduce (fn (d i) (assoc d (str i) i)) {} (range 200000)))"
         "(define bigger (assoc big \"new\" 1))");
  size_t before = in.heap_stats().allocated_bytes;
  EvalOk(in, "(define v2 (assoc big \"another\" 2))");
  size_t after = in.heap_stats().allocated_bytes;
  // A copy of 200,000 entries would be megabytes; a path copy is a few nodes.
  EXPECT_LT(after - before, size_t{64} << 10);
  EXPECT_EQ(EvalOk(in, "(list (len big) (len bigger) (get bigger \"199999\"))").value.Inspect(),
            "(200000 200001 199999)");
}

TEST(Machine, IntegerOverflowIsAnErrorNotAWrap) {
  Interpreter in;
  Outcome o = in.Eval("(+ 9223372036854775807 1)");
  ASSERT_EQ(o.status, Status::kError);
  EXPECT_NE(o.error_text.find("overflow"), std::string::npos);
  EXPECT_EQ(EvalOk(in, "(* 140737488355327 2)").value.AsInt(), 281474976710654);
}

TEST(Machine, InterruptStopsARunawayLoop) {
  Interpreter in;
  in.DefineNative("stop-me", 0, 0, "", [](Interpreter& in, std::span<const Value>) {
    in.Interrupt();
    return in.Nil();
  });
  Outcome o = in.Eval("(define (forever) (forever)) (stop-me) (forever)");
  ASSERT_EQ(o.status, Status::kError);
  EXPECT_NE(o.error_text.find("interrupted"), std::string::npos);
  EXPECT_EQ(EvalOk(in, "(+ 1 1)").value.AsInt(), 2);  // usable afterwards
}

TEST(Machine, SerializeRefusesFunctions) {
  Interpreter in;
  std::string text, why;
  EXPECT_TRUE(in.Serialize(EvalOk(in, "{:a (list 1 2.5 \"x\")}").value, &text, &why));
  EXPECT_EQ(text, "{:a (1 2.5 \"x\")}");
  EXPECT_FALSE(in.Serialize(EvalOk(in, "{:f (fn (x) x)}").value, &text, &why));
  EXPECT_FALSE(why.empty());
}

}  // namespace
}  // namespace sx
