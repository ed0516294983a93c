// test_runner.cc — discovery, isolation and reporting for `sx test`.
#include "host/test_runner.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

namespace sx::host {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> Discover(const std::vector<std::string>& paths, bool* ok) {
  std::vector<std::string> files;
  for (const std::string& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::end(it);
           it.increment(ec)) {
        if (it->is_regular_file() && it->path().extension() == ".sx") {
          found.push_back(it->path().string());
        }
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(p, ec)) {
      files.push_back(p);
    } else {
      std::cerr << "sx test: no such file or directory: " << p << "\n";
      *ok = false;
    }
  }
  return files;
}

// Where the first assertion failed, from the error's backtrace.
std::string Where(const std::string& error_text) {
  size_t at = error_text.find("\n  at ");
  if (at == std::string::npos) return "";
  size_t end = error_text.find('\n', at + 1);
  return error_text.substr(at + 6, end == std::string::npos ? std::string::npos : end - at - 6);
}

struct Tally {
  int passed = 0;
  int failed = 0;
};

void ReportFailure(const std::string& file, const std::string& name, const Outcome& o) {
  std::cout << "FAIL " << file << ": " << name << "\n";
  const Value& err = o.value;
  if (err.IsError()) {
    Value data = err.ErrorData();
    if (data.IsDict() && (!data.Get("expected").IsNil() || !data.Get("actual").IsNil())) {
      std::cout << "  expected: " << data.Get("expected").Inspect() << "\n";
      std::cout << "  actual:   " << data.Get("actual").Inspect() << "\n";
    } else {
      std::cout << "  error: " << err.ErrorMessage() << "\n";
    }
  } else {
    std::cout << "  raised: " << err.Inspect() << "\n";
  }
  std::string where = Where(o.error_text);
  if (!where.empty()) std::cout << "  at " << where << "\n";
}

void RunFile(const TestOptions& opts, const std::string& file, Tally* tally) {
  HostOptions host = opts.host;
  std::string temp_dir;
  if (host.data_dir.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "sx-test-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      std::cout << "FAIL " << file << ": cannot make a temporary data directory\n";
      tally->failed++;
      return;
    }
    temp_dir = tmpl;
    host.data_dir = temp_dir + "/data";
  }
  {
    Host h(host);
    Interpreter& in = h.interp();
    // test/echo answers its argument; test/fail raises its message: suites
    // use them to suspend and resume without touching the store.
    in.AddIoHandler([](Interpreter& in, std::string_view op, const Value& args, const Value&) {
      if (op == "test/echo") {
        std::vector<Value> a = args.IsList() ? args.Items() : std::vector<Value>{};
        return IoResult::Served(a.empty() ? in.Nil() : a[0]);
      }
      if (op == "test/fail") {
        std::vector<Value> a = args.IsList() ? args.Items() : std::vector<Value>{};
        return IoResult::Failed(a.empty() ? "test/fail" : a[0].Display());
      }
      return IoResult::Pass();
    });
    Outcome o = in.Run(in.Eval("(import test)", "<test>"));
    if (o.status == Status::kDone) o = in.Run(in.EvalFile(file));
    if (o.status != Status::kDone) {
      std::cout << "FAIL " << file << ": error while loading\n  " << o.error_text << "\n";
      tally->failed++;
    } else {
      Outcome list = in.Run(in.Eval("(%test-list)", "<test>"));
      for (const Value& t : list.value.Items()) {
        std::vector<Value> parts = t.Items();
        std::string name = parts[0].IsString() ? parts[0].AsString() : parts[0].Inspect();
        Outcome r = in.Run(in.Call(parts[1], {}));
        if (r.status == Status::kDone) {
          tally->passed++;
          if (opts.verbose) std::cout << "ok   " << file << ": " << name << "\n";
        } else {
          tally->failed++;
          ReportFailure(file, name, r);
        }
      }
    }
  }
  if (!temp_dir.empty()) {
    std::error_code ec;
    fs::remove_all(temp_dir, ec);
  }
}

}  // namespace

int RunTests(const TestOptions& opts) {
  bool ok = true;
  std::vector<std::string> files = Discover(opts.paths, &ok);
  Tally tally;
  for (const std::string& f : files) RunFile(opts, f, &tally);
  if (!ok) tally.failed++;
  std::cout << tally.passed << " passed, " << tally.failed << " failed" << std::endl;
  return tally.failed == 0 ? 0 : 1;
}

}  // namespace sx::host
