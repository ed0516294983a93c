// world_api_test.cc — AttachWorld as an embedder uses it: everything the
// sx command gives a script, a clock faked and files refused by a handler
// added first, and with serve_ops false only what the embedder serves.
#include <gtest/gtest.h>

#include <string>

#include "sx/world.h"

namespace {

sx::Outcome Eval(sx::Interpreter& in, const char* code) { return in.Run(in.Eval(code)); }

std::string Text(sx::Interpreter& in, const char* code) {
  sx::Outcome o = Eval(in, code);
  EXPECT_EQ(o.status, sx::Status::kDone) << o.error_text;
  return o.status == sx::Status::kDone ? o.value.Inspect() : o.error_text;
}

TEST(WorldApi, AttachGivesTheNativesAndTheSysFunctions) {
  sx::Interpreter in;
  sx::AttachWorld(in);
  EXPECT_EQ(Text(in, "(json-write (json-read \"{\\\"a\\\": [1, 2.5]}\"))"),
            "\"{\\\"a\\\":[1,2.5]}\"");
  EXPECT_EQ(Text(in, "(format \"{:>5.1f}|{}\" 2 :k)"), "\"  2.0|:k\"");
  EXPECT_EQ(Text(in, "(iso-time 0)"), "\"1970-01-01T00:00:00.000Z\"");
  EXPECT_EQ(Text(in, "(> (now-ms) 1700000000000)"), "true");
  EXPECT_EQ(Text(in, "(file-exists? \"/\")"), "true");
}

TEST(WorldApi, AHandlerAddedFirstFakesTheClockAndRefusesFiles) {
  sx::Interpreter in;
  in.AddIoHandler([](sx::Interpreter& in, std::string_view op, const sx::Value&, const sx::Value&) {
    if (op == "time/now-ms") return sx::IoResult::Served(in.Int(1700000000000));
    if (op.starts_with("file/")) return sx::IoResult::Failed(std::string(op) + ": not here");
    return sx::IoResult::Pass();
  });
  sx::AttachWorld(in);
  EXPECT_EQ(Text(in, "(iso-time (now-ms))"), "\"2023-11-14T22:13:20.000Z\"");
  EXPECT_EQ(Text(in, "(guard (e (true (error-message e))) (read-file \"/etc/hostname\"))"),
            "\"file/read: not here\"");
  EXPECT_EQ(Text(in, "(integer? (clock-ns))"), "true");  // still served by the world
}

TEST(WorldApi, WithoutServeOpsOnlyTheEmbeddersOpsAreServed) {
  sx::Interpreter in;
  in.AddIoHandler([](sx::Interpreter& in, std::string_view op, const sx::Value&, const sx::Value&) {
    return op == "time/now-ms" ? sx::IoResult::Served(in.Int(5)) : sx::IoResult::Pass();
  });
  sx::AttachWorld(in, sx::WorldOptions{.serve_ops = false, .exit = nullptr});
  EXPECT_EQ(Text(in, "(now-ms)"), "5");
  sx::Outcome o = Eval(in, "(read-file \"/etc/hostname\")");
  ASSERT_EQ(o.status, sx::Status::kError);
  EXPECT_NE(o.error_text.find("no handler for op \"file/read\""), std::string::npos);
  EXPECT_EQ(Text(in, "(json-write (list 1))"), "\"[1]\"");  // the pure natives are there
}

struct Exited {
  int code;
};

TEST(WorldApi, ExitGoesToTheEmbeddersCallback) {
  sx::Interpreter in;
  sx::AttachWorld(
      in, sx::WorldOptions{.serve_ops = true, .exit = [](int code) { throw Exited{code}; }});
  try {
    Eval(in, "(exit 9)");
    FAIL() << "exit returned";
  } catch (const Exited& e) {
    EXPECT_EQ(e.code, 9);
  }
}

}  // namespace
