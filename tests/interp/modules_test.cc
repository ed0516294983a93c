// modules_test.cc — where `import` and `load` find files, and `eval`.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "sx/sx.h"

namespace sx {
namespace {

namespace fs = std::filesystem;

class Modules : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "sx-modules-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    old_cwd_ = fs::current_path();
  }
  void TearDown() override {
    fs::current_path(old_cwd_);
    fs::remove_all(root_);
  }
  void Write(const std::string& rel, const std::string& text) {
    fs::path p = root_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  std::string Path(const std::string& rel) { return (root_ / rel).string(); }
  // A stdlib that knows "helper" and "only-lib".
  static void ServeLib(Interpreter& in) {
    in.SetModuleLoader([](std::string_view name, std::string* source) {
      if (name == "helper")
        *source = "(define (where) :stdlib)";
      else if (name == "only-lib")
        *source = "(define (only-lib) :stdlib)";
      else
        return false;
      return true;
    });
  }
  Outcome RunFile(Interpreter& in, const std::string& rel) {
    Outcome o = in.Run(in.EvalFile(Path(rel)));
    EXPECT_EQ(o.status, Status::kDone) << o.error_text;
    return o;
  }

  fs::path root_;
  fs::path old_cwd_;
};

TEST_F(Modules, ImportLooksInTheImportingFilesFolderFirst) {
  Write("app/main.sx", "(import helper) (where)");
  Write("app/helper.sx", "(define (where) :beside)");
  Write("path/helper.sx", "(define (where) :search-path)");
  Interpreter in;
  ServeLib(in);
  in.AddSearchPath(Path("path"));
  EXPECT_EQ(RunFile(in, "app/main.sx").value.Inspect(), ":beside");
}

TEST_F(Modules, ThenTheSearchPathThenTheStdlib) {
  Write("app/main.sx", "(import helper) (import only-lib) (list (where) (only-lib))");
  Write("path/helper.sx", "(define (where) :search-path)");
  Interpreter in;
  ServeLib(in);
  in.AddSearchPath(Path("path"));
  EXPECT_EQ(RunFile(in, "app/main.sx").value.Inspect(), "(:search-path :stdlib)");
}

TEST_F(Modules, AModuleImportsBesideItselfNotBesideItsImporter) {
  Write("main.sx", "(import lib/a) (a)");
  Write("lib/a.sx", "(import b) (define (a) (list :a (b)))");
  Write("lib/b.sx", "(define (b) :lib-b)");
  Write("b.sx", "(define (b) :top-b)");
  Interpreter in;
  EXPECT_EQ(RunFile(in, "main.sx").value.Inspect(), "(:a :lib-b)");
}

TEST_F(Modules, CodeNotFromAFileHasNoFolder) {
  Write("helper.sx", "(define (where) :cwd)");
  fs::current_path(root_);
  Interpreter in;
  ServeLib(in);
  Outcome o = in.Run(in.Eval("(import helper) (where)", "<eval>"));
  ASSERT_EQ(o.status, Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Inspect(), ":stdlib");
}

TEST_F(Modules, AMissingModuleSaysWhereItLooked) {
  Write("app/main.sx", "(import nowhere)");
  Interpreter in;
  ServeLib(in);
  Outcome o = in.Run(in.EvalFile(Path("app/main.sx")));
  ASSERT_EQ(o.status, Status::kError);
  EXPECT_NE(o.error_text.find("import: no module named nowhere (looked in " + Path("app") +
                              "/, and the built-in library)"),
            std::string::npos)
      << o.error_text;
}

TEST_F(Modules, ARelativeLoadLooksBesideTheFileThenInTheWorkingDirectory) {
  Write("app/main.sx", "(load \"near.sx\") (load \"far.sx\") (list near far)");
  Write("app/near.sx", "(define near :beside)");
  Write("near.sx", "(define near :cwd)");
  Write("far.sx", "(define far :cwd)");
  fs::current_path(root_);
  Interpreter in;
  EXPECT_EQ(RunFile(in, "app/main.sx").value.Inspect(), "(:beside :cwd)");
}

TEST_F(Modules, ALoadThatFindsNothingNamesThePath) {
  Write("app/main.sx", "(load \"gone.sx\")");
  fs::current_path(root_);
  Interpreter in;
  Outcome o = in.Run(in.EvalFile(Path("app/main.sx")));
  ASSERT_EQ(o.status, Status::kError);
  EXPECT_NE(o.error_text.find("load: cannot read gone.sx"), std::string::npos) << o.error_text;
}

TEST_F(Modules, ALoadInsideAFunctionReturnsToIt) {
  Write("app/main.sx", "(define (f) (load \"x.sx\") (list :after x)) (f)");
  Write("app/x.sx", "(define x 7)");
  Interpreter in;
  EXPECT_EQ(RunFile(in, "app/main.sx").value.Inspect(), "(:after 7)");
}

TEST(Eval, EvaluatesAFormAtTopLevel) {
  Interpreter in;
  Outcome o = in.Run(in.Eval("(define (f) (eval '(define g 5)) (+ g (eval (list '* 2 3)))) (f)"));
  ASSERT_EQ(o.status, Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.AsInt(), 11);
}

TEST(Eval, EvaluatesEveryFormOfAStringAndReturnsTheLast) {
  Interpreter in;
  Outcome o = in.Run(in.Eval("(list (eval \"(define h 2) (* h 21)\") (eval \"\") (eval 3))"));
  ASSERT_EQ(o.status, Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Inspect(), "(42 nil 3)");
}

TEST(Eval, IsAFunctionValueAndMaySuspend) {
  Interpreter in;
  in.AddIoHandler([](Interpreter&, std::string_view op, const Value& args, const Value&) {
    if (op != "echo") return IoResult::Pass();
    return IoResult::Served(args.Items()[0]);
  });
  Outcome o = in.Run(
      in.Eval("(map eval (list '(+ 1 2) \"(perform {:op \\\"echo\\\" :args (list :x)})\"))"));
  ASSERT_EQ(o.status, Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Inspect(), "(3 :x)");
}

TEST(Eval, ErrorsInTheTextAreCatchable) {
  Interpreter in;
  Outcome o =
      in.Run(in.Eval("(list (guard (e (true (error-message e))) (eval \"(+ 1\"))"
                     "      (guard (e (true (error-message e))) (eval \"(car-of 1)\")))"));
  ASSERT_EQ(o.status, Status::kDone) << o.error_text;
  EXPECT_EQ(o.value.Items()[1].AsString(), "unbound symbol: car-of");
  EXPECT_NE(o.value.Items()[0].AsString().find("expected ')'"), std::string::npos)
      << o.value.Inspect();
}

}  // namespace
}  // namespace sx
