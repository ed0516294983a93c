// fibers_test.cc — C++ natives that call back into SX and suspend there.
//
// `nest` is a native declared calls_back: it calls its argument through
// Interpreter::CallBack and adds one to the answer, so three nested `nest`
// calls keep three C++ frames parked on three fibers while the innermost
// callback waits on the host.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sx/sx.h"

namespace {

sx::Value Nest(sx::Interpreter& in, std::span<const sx::Value> a) {
  sx::Value r = in.CallBack(a[0], {});
  return in.Int(r.AsInt() + 1);
}

class FiberTest : public ::testing::Test {
 protected:
  FiberTest() {
    in.DefineNative("nest", 1, 1, "(nest f) — (+ 1 (f)), from C++.", Nest,
                    sx::NativeOptions{.calls_back = true});
    in.DefineNative(
        "nest-catch", 1, 1, "(nest-catch f) — (f), or its error message from C++.",
        [](sx::Interpreter& in, std::span<const sx::Value> a) {
          try {
            return in.CallBack(a[0], {});
          } catch (const sx::Error& e) {
            return in.String(std::string("caught: ") + e.what());
          }
        },
        sx::NativeOptions{.calls_back = true});
    in.DefineNative(
        "plain-call", 1, 1, "(plain-call f) — (f) from a native not marked.",
        [](sx::Interpreter& in, std::span<const sx::Value> a) { return in.CallBack(a[0], {}); });
  }
  sx::Interpreter in;
};

constexpr const char* kThreeDeep =
    "(nest (fn () (nest (fn () (nest (fn () (perform {:op \"t/get\" :args ()})))))))";

TEST_F(FiberTest, ThreeDeepCallbackResumedWithValue) {
  sx::Outcome o = in.Eval(kThreeDeep);
  ASSERT_EQ(o.status, sx::Status::kSuspended);
  EXPECT_EQ(o.value.Get("op").AsString(), "t/get");
  o = in.Resume(in.Int(40));
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.AsInt(), 43);
}

TEST_F(FiberTest, ThreeDeepCallbackSuspendsRepeatedly) {
  sx::Outcome o = in.Eval(
      "(nest (fn () (nest (fn () (nest (fn () (+ (perform {:op \"a\"}) (nest (fn () "
      "(perform {:op \"b\"}))))))))))");
  int asked = 0;
  while (o.status == sx::Status::kSuspended) {
    ++asked;
    o = in.Resume(in.Int(o.value.Get("op").AsString() == "a" ? 10 : 100));
  }
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(asked, 2);
  EXPECT_EQ(o.value.AsInt(), 10 + 101 + 3);
}

TEST_F(FiberTest, ThreeDeepCallbackResumedWithErrorUnwindsEveryNative) {
  sx::Outcome o = in.Eval(kThreeDeep);
  ASSERT_EQ(o.status, sx::Status::kSuspended);
  o = in.ResumeError("disk on fire");
  ASSERT_EQ(o.status, sx::Status::kError);
  EXPECT_EQ(o.value.ErrorMessage(), "disk on fire");
}

TEST_F(FiberTest, ErrorResumedIntoCallbackIsCaughtByGuardThere) {
  sx::Outcome o = in.Eval(
      "(nest (fn () (nest (fn () (nest (fn () (guard (e (true 100)) "
      "(perform {:op \"t/get\"}))))))))");
  ASSERT_EQ(o.status, sx::Status::kSuspended);
  o = in.ResumeError("no");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.AsInt(), 103);
}

TEST_F(FiberTest, NativeCatchesTheCallbacksErrorInCpp) {
  sx::Outcome o =
      in.Eval("(nest-catch (fn () (nest (fn () (nest (fn () (perform {:op \"t/get\"})))))))");
  ASSERT_EQ(o.status, sx::Status::kSuspended);
  o = in.ResumeError("boom");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.AsString(), "caught: boom");
}

TEST_F(FiberTest, CallbackErrorKeepsItsValueThroughNatives) {
  sx::Outcome o = in.Eval(
      "(guard (e (true (error-data e))) (nest (fn () (nest (fn () (error \"bad\" {:k 1}))))))");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Get("k").AsInt(), 1);
}

TEST_F(FiberTest, NoSuspensionMeansNoSwitchProblems) {
  sx::Outcome o = in.Eval("(reduce + 0 (map (fn (i) (nest (fn () i))) (range 1000)))");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.AsInt(), 999 * 1000 / 2 + 1000);
}

TEST_F(FiberTest, ThroughRunWithAnIoHandler) {
  in.AddIoHandler([](sx::Interpreter& in, std::string_view op, const sx::Value&, const sx::Value&) {
    return op == "t/get" ? sx::IoResult::Served(in.Int(1)) : sx::IoResult::Pass();
  });
  sx::Outcome o = in.Run(in.Eval(
      "(map (fn (x) (nest (fn () (nest (fn () (nest (fn () (+ x (perform {:op \"t/get\"})))))))))"
      " (list 0 10 20))"));
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Inspect(), "(4 14 24)");
}

TEST_F(FiberTest, CollectionWhileNativesAreParked) {
  in.AddIoHandler(
      [](sx::Interpreter&, std::string_view op, const sx::Value& args, const sx::Value&) {
        return op == "t/echo" ? sx::IoResult::Served(args.Items()[0]) : sx::IoResult::Pass();
      });
  size_t before = in.heap_stats().collections;
  sx::Outcome o = in.Run(in.Eval(
      "(define (churn n) (len (map (fn (i) (list i i)) (range n))))"
      "(nest (fn () (let ((xs (range 5000))) (churn 200000)"
      "  (nest (fn () (let ((s (perform {:op \"t/echo\" :args (list (range 100))}))) (churn 200000)"
      "    (nest (fn () (+ (churn 200000) (len s) (len xs))))))))))"));
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.AsInt(), 200000 + 100 + 5000 + 3);
  EXPECT_GT(in.heap_stats().collections, before);
}

TEST_F(FiberTest, PerformUnderANativeNotDeclaredToCallBackIsAnError) {
  sx::Outcome o = in.Eval("(plain-call (fn () (perform {:op \"t/get\"})))");
  ASSERT_EQ(o.status, sx::Status::kError);
  EXPECT_NE(o.value.ErrorMessage().find("calls_back"), std::string::npos);
  // Without a perform it works, and a fiber native inside it still may not park.
  o = in.Eval("(plain-call (fn () 7))");
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.AsInt(), 7);
}

TEST_F(FiberTest, AbandonedParkedNativesAreUnwound) {
  {
    sx::Interpreter other;
    other.DefineNative("nest", 1, 1, "", Nest, sx::NativeOptions{.calls_back = true});
    sx::Outcome o = other.Eval(kThreeDeep);
    ASSERT_EQ(o.status, sx::Status::kSuspended);
  }  // destroyed while three natives are parked: their frames unwind
  sx::Outcome o = in.Eval(kThreeDeep);
  ASSERT_EQ(o.status, sx::Status::kSuspended);
  // A new evaluation abandons nothing; resuming still works.
  o = in.Resume(in.Int(0));
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.AsInt(), 3);
}

TEST_F(FiberTest, SortWithAPerformingComparatorThroughTheScheduler) {
  int asked = 0;
  in.AddIoHandler(
      [&asked](sx::Interpreter& in, std::string_view op, const sx::Value& args, const sx::Value&) {
        if (op != "t/less") return sx::IoResult::Pass();
        ++asked;
        std::vector<sx::Value> a = args.Items();
        return sx::IoResult::Served(in.Bool(a[0].AsInt() < a[1].AsInt()));
      });
  sx::Outcome o =
      in.Run(in.Eval("(define (less a b) (perform {:op \"t/less\" :args (list a b)}))"
                     "(define ts (map (fn (xs) (spawn (fn () (sort xs less)))) "
                     "  (list (list 5 3 9 1) (list 8 2 7) (list 4 6))))"
                     "(list (map await ts) (sort (list 3 1 2) (fn (a b) (= 1 (nest (fn () (if "
                     "(less a b) 0 -5)))))))"));
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Inspect(), "(((1 3 5 9) (2 7 8) (4 6)) (1 2 3))");
  EXPECT_GT(asked, 5);
}

TEST_F(FiberTest, StaleAndDuplicateTokensAreRejected) {
  sx::Outcome o = in.Eval("(+ (perform {:op \"a\"}) (perform {:op \"b\"}))");
  ASSERT_EQ(o.status, sx::Status::kSuspended);
  uint64_t first = o.token;
  ASSERT_NE(first, 0u);
  o = in.Resume(first, in.Int(1));
  ASSERT_EQ(o.status, sx::Status::kSuspended);
  uint64_t second = o.token;
  EXPECT_NE(second, first);
  // The first suspension was answered: answering it again is refused.
  sx::Outcome dup = in.Resume(first, in.Int(1000));
  EXPECT_EQ(dup.status, sx::Status::kError);
  EXPECT_NE(dup.error_text.find("stale token"), std::string::npos);
  EXPECT_TRUE(in.suspended());
  EXPECT_EQ(in.ResumeError(first, "late").status, sx::Status::kError);
  EXPECT_EQ(in.stale_resumes(), 2u);
  o = in.Resume(second, in.Int(2));
  ASSERT_EQ(o.status, sx::Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.AsInt(), 3);
  EXPECT_EQ(in.Resume(second, in.Int(2)).status, sx::Status::kError);
  EXPECT_EQ(in.stale_resumes(), 3u);
}

}  // namespace
