// sys_ops_test.cc — the world ops as an embedder sees them: served by the
// host's handler, faked or refused by a handler in front of it, and exit
// going through the embedder's callback.
#include "host/ops/sys_ops.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "host/cli/setup.h"
#include "sx/sx.h"

namespace sx::host {
namespace {

constexpr const char* kWrappers = R"(
  (define (now-ms) (perform {:op "time/now-ms" :args ()}))
  (define (read-file p) (perform {:op "file/read" :args (list p)}))
  (define (exit c) (perform {:op "process/exit" :args (list c)})))";

Outcome Eval(Interpreter& in, const char* code) { return in.Run(in.Eval(code)); }

TEST(SysOps, TheHostServesTheClock) {
  Interpreter in;
  InstallSysOps(in, {});
  Eval(in, kWrappers);
  Outcome o = Eval(in, "(now-ms)");
  ASSERT_EQ(o.status, Status::kDone) << o.error_text;
  EXPECT_GT(o.value.AsInt(), 1700000000000);
}

TEST(SysOps, AHandlerInFrontFixesTheClock) {
  Interpreter in;
  in.AddIoHandler([](Interpreter& in, std::string_view op, const Value&, const Value&) {
    return op == "time/now-ms" ? IoResult::Served(in.Int(1234)) : IoResult::Pass();
  });
  InstallSysOps(in, {});
  Eval(in, kWrappers);
  Outcome o = Eval(in, "(list (now-ms) (now-ms))");
  ASSERT_EQ(o.status, Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Inspect(), "(1234 1234)");
}

TEST(SysOps, AHandlerInFrontRefusesFiles) {
  Interpreter in;
  in.AddIoHandler([](Interpreter&, std::string_view op, const Value&, const Value&) {
    return op.starts_with("file/") ? IoResult::Failed(std::string(op) + ": not allowed here")
                                   : IoResult::Pass();
  });
  InstallSysOps(in, {});
  Eval(in, kWrappers);
  Outcome o = Eval(in, "(guard (e (true (error-message e))) (read-file \"/etc/hostname\"))");
  ASSERT_EQ(o.status, Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.AsString(), "file/read: not allowed here");
}

TEST(SysOps, WithoutTheHandlerTheOpsAreUnserved) {
  Interpreter in;
  Eval(in, kWrappers);
  Outcome o = Eval(in, "(now-ms)");
  ASSERT_EQ(o.status, Status::kError);
  EXPECT_NE(o.error_text.find("no handler for op \"time/now-ms\""), std::string::npos);
}

struct ExitCalled {
  int code;
};

TEST(SysOps, ExitGoesThroughTheEmbeddersCallback) {
  Interpreter in;
  InstallSysOps(in, SysOptions{.exit = [](int code) { throw ExitCalled{code}; }});
  Eval(in, kWrappers);
  try {
    Eval(in, "(exit 7)");
    FAIL() << "exit returned";
  } catch (const ExitCalled& e) {
    EXPECT_EQ(e.code, 7);
  }
}

TEST(SysOps, ExitRefusesACodeOutOfRange) {
  Interpreter in;
  InstallSysOps(in, SysOptions{.exit = [](int) { throw std::logic_error("exited"); }});
  Eval(in, kWrappers);
  Outcome o = Eval(in, "(exit 256)");
  ASSERT_EQ(o.status, Status::kError);
  EXPECT_NE(o.error_text.find("the exit code must be an integer from 0 to 255, got 256"),
            std::string::npos);
}

TEST(SysOps, TheSxHostBindsTheWrappersInEveryScript) {
  HostOptions opts;
  opts.data_dir = "/nonexistent-sx-test";  // never opened: no persist op runs
  Host host(opts);
  Outcome o = Eval(host.interp(), "(list (fn? now-ms) (fn? read-file) (fn? eprintln) (fn? exit))");
  ASSERT_EQ(o.status, Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Inspect(), "(true true true true)");
}

TEST(SysOps, AHostMayKeepExitFromEndingTheProcess) {
  HostOptions opts;
  opts.data_dir = "/nonexistent-sx-test";
  opts.exit = [](int code) { throw ExitCalled{code}; };
  Host host(opts);
  try {
    Eval(host.interp(), "(exit 4)");
    FAIL() << "exit returned";
  } catch (const ExitCalled& e) {
    EXPECT_EQ(e.code, 4);
  }
}

}  // namespace
}  // namespace sx::host
