// test_runner.cc — discovery, isolation and reporting for `sx test`.
#include "host/cli/test_runner.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "host/backend/open.h"
#include "sx/persist.h"

namespace sx::host {

namespace fs = std::filesystem;

namespace {

constexpr const char* kTestUsage = R"usage(usage: sx test [FLAGS] PATH...

Runs SX test files (a folder: every *.sx under it, in name order). Each file
runs in a fresh interpreter with (import test) done, and gets a fresh
temporary data directory for persist/* ops, even when --data-dir or
$SX_PERSIST_DIR name one, so suites never see each other's data.

flags (before or after `test`):
  -v, --verbose       list passing tests too ("ok   FILE: NAME")
  --shared-store      give every file the same store: --data-dir DIR, else
                      $SX_PERSIST_DIR, else one temporary directory for the run
  --data-dir DIR      the shared store's directory (only with --shared-store)
  --store LOCATION    as --data-dir; or a PostgreSQL URL: each file then gets a
                      fresh schema in that database, dropped after it (with
                      --shared-store, every file uses the URL as given)
  --sync MODE         always (default), batch or never; also $SX_PERSIST_SYNC
  --junit FILE        also write the results as JUnit XML to FILE
  -h, --help          show this help

output: a FAIL block per failing test (expected and actual, or the error with
its backtrace, and the FILE:LINE:COL in the test file), a line per file
"FILE: N passed, N failed (T ms)", and last "N passed, N failed".
exit status: 0 when every test passed, 1 otherwise, 2 bad usage
)usage";

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

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

// A fresh directory under the system's temporary folder, or "" on failure.
std::string MakeTempDir() {
  std::string tmpl = (fs::temp_directory_path() / "sx-test-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) return "";
  return tmpl;
}

// The error text's headline place ("file:line:col"): the innermost place in
// the test's own code.
std::string Headline(const std::string& error_text) {
  std::string first = error_text.substr(0, error_text.find('\n'));
  size_t at = first.find(": error: ");
  return at == std::string::npos ? "" : first.substr(0, at);
}

// The backtrace lines ("  at ...") of an error text.
std::string Backtrace(const std::string& error_text) {
  std::string out;
  std::istringstream in(error_text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("  at ", 0) == 0) out += line + "\n";
  }
  return out;
}

// The backtrace line of the headline's place, which names its function;
// "  at PLACE" when no line has it.
std::string HeadlineFrame(const std::string& error_text, const std::string& where) {
  std::istringstream in(error_text);
  std::string line;
  std::string prefix = "  at " + where;
  while (std::getline(in, line)) {
    if (line == prefix || line.rfind(prefix + " in ", 0) == 0) return line + "\n";
  }
  return prefix + "\n";
}

struct Case {
  std::string name;
  double seconds = 0;
  bool failed = false;
  std::string message;  // failed: one line
  std::string detail;   // failed: the lines printed under FAIL
};

struct Suite {
  std::string file;
  double seconds = 0;
  bool load_failed = false;  // the file itself raised; its one case says why
  std::vector<Case> cases;
  int failures() const {
    return static_cast<int>(
        std::count_if(cases.begin(), cases.end(), [](const Case& c) { return c.failed; }));
  }
};

// What a failed test says: the expected and actual values of an assertion
// with where it is, or the error with its backtrace.
void DescribeFailure(const Outcome& o, Case* c) {
  c->failed = true;
  const Value& err = o.value;
  std::string where = Headline(o.error_text);
  if (err.IsError()) {
    Value data = err.ErrorData();
    c->message = err.ErrorMessage();
    if (data.IsDict() && (!data.Get("expected").IsNil() || !data.Get("actual").IsNil())) {
      c->detail = "  expected: " + data.Get("expected").Inspect() + "\n" +
                  "  actual:   " + data.Get("actual").Inspect() + "\n";
      if (!where.empty()) c->detail += HeadlineFrame(o.error_text, where);
      return;
    }
    c->detail = "  error: " + c->message + "\n";
  } else {
    c->message = "raised " + err.Inspect();
    c->detail = "  raised: " + err.Inspect() + "\n";
  }
  std::string trace = Backtrace(o.error_text);
  c->detail += trace.empty() && !where.empty() ? "  at " + where + "\n" : trace;
}

void RunFile(const TestOptions& opts, const std::string& file, Suite* suite) {
  Clock::time_point start = Clock::now();
  suite->file = file;
  HostOptions host = opts.host;
  std::string temp_dir, schema_url;
  if (!opts.shared_store) {
    temp_dir = MakeTempDir();
    if (temp_dir.empty()) {
      suite->load_failed = true;
      suite->cases.push_back(Case{"(setup)", 0, true, "cannot make a temporary data directory",
                                  "  error: cannot make a temporary data directory\n"});
      return;
    }
    host.data_dir = temp_dir + "/data";
    if (!opts.store_url.empty()) {
      std::string schema = "sxtest_" + std::to_string(getpid()) + "_";
      for (char c : fs::path(temp_dir).filename().string()) {
        schema += std::isalnum(static_cast<unsigned char>(c))
                      ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
                      : '_';
      }
      schema_url = opts.store_url + (opts.store_url.find('?') == std::string::npos ? "?" : "&") +
                   "schema=" + schema;
      host.data_dir = schema_url;
    }
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
      suite->load_failed = true;
      Case c;
      c.name = "(loading the file)";
      c.failed = true;
      c.message = o.value.IsError() ? o.value.ErrorMessage() : o.error_text;
      c.detail = "  " + o.error_text + "\n";
      std::cout << "FAIL " << file << ": error while loading\n" << c.detail;
      suite->cases.push_back(c);
    } else {
      Outcome list = in.Run(in.Eval("(%test-list)", "<test>"));
      for (const Value& t : list.value.Items()) {
        std::vector<Value> parts = t.Items();
        Case c;
        c.name = parts[0].IsString() ? parts[0].AsString() : parts[0].Inspect();
        Clock::time_point t0 = Clock::now();
        Outcome r = in.Run(in.Call(parts[1], {}));
        c.seconds = Seconds(t0);
        if (r.status != Status::kDone) DescribeFailure(r, &c);
        if (c.failed) {
          std::cout << "FAIL " << file << ": " << c.name << "\n" << c.detail;
        } else if (opts.verbose) {
          std::cout << "ok   " << file << ": " << c.name << "\n";
        }
        suite->cases.push_back(c);
      }
    }
  }
  if (!temp_dir.empty()) {
    std::error_code ec;
    fs::remove_all(temp_dir, ec);
  }
  if (!schema_url.empty()) {
    backend::Status s = backend::DropPostgresSchema(schema_url);
    if (!s.ok()) std::cerr << "sx test: " << file << ": " << s.ToString() << "\n";
  }
  suite->seconds = Seconds(start);
}

// Text for XML: the five special characters escaped, and the control
// characters XML 1.0 cannot carry (all but tab, newline, return) replaced.
std::string Xml(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        bool control =
            static_cast<unsigned char>(ch) < 0x20 && ch != '\t' && ch != '\n' && ch != '\r';
        out += control ? '?' : ch;
    }
  }
  return out;
}

std::string Fixed(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", seconds);
  return buf;
}

// JUnit XML as CI systems read it: a testsuite per file, a testcase per test.
bool WriteJunit(const std::string& path, const std::vector<Suite>& suites, double seconds) {
  int tests = 0, failures = 0;
  for (const Suite& s : suites) {
    tests += static_cast<int>(s.cases.size());
    failures += s.failures();
  }
  std::ostringstream x;
  x << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  x << "<testsuites name=\"sx test\" tests=\"" << tests << "\" failures=\"" << failures
    << "\" errors=\"0\" time=\"" << Fixed(seconds) << "\">\n";
  for (const Suite& s : suites) {
    x << "  <testsuite name=\"" << Xml(s.file) << "\" tests=\"" << s.cases.size()
      << "\" failures=\"" << s.failures() << "\" errors=\"0\" time=\"" << Fixed(s.seconds)
      << "\">\n";
    for (const Case& c : s.cases) {
      x << "    <testcase classname=\"" << Xml(s.file) << "\" name=\"" << Xml(c.name)
        << "\" time=\"" << Fixed(c.seconds) << "\"";
      if (!c.failed) {
        x << "/>\n";
        continue;
      }
      x << ">\n      <failure message=\"" << Xml(c.message) << "\">" << Xml(c.detail)
        << "</failure>\n    </testcase>\n";
    }
    x << "  </testsuite>\n";
  }
  x << "</testsuites>\n";
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << x.str();
  out.close();
  return static_cast<bool>(out);
}

}  // namespace

int RunTests(const TestOptions& opts) {
  Clock::time_point start = Clock::now();
  bool ok = true;
  std::vector<std::string> files = Discover(opts.paths, &ok);
  TestOptions run = opts;
  std::string shared_temp;
  if (run.shared_store && run.host.data_dir.empty()) {
    shared_temp = MakeTempDir();
    if (shared_temp.empty()) {
      std::cerr << "sx test: cannot make a temporary data directory\n";
      return 1;
    }
    run.host.data_dir = shared_temp + "/data";
  }
  std::vector<Suite> suites;
  int passed = 0, failed = 0;
  for (const std::string& f : files) {
    Suite s;
    RunFile(run, f, &s);
    int n_failed = s.failures();
    int n_passed = static_cast<int>(s.cases.size()) - n_failed;
    std::cout << f << ": " << n_passed << " passed, " << n_failed << " failed ("
              << static_cast<long>(s.seconds * 1000 + 0.5) << " ms)\n";
    passed += n_passed;
    failed += n_failed;
    suites.push_back(std::move(s));
  }
  if (!shared_temp.empty()) {
    std::error_code ec;
    fs::remove_all(shared_temp, ec);
  }
  if (!ok) failed++;
  std::cout << passed << " passed, " << failed << " failed" << std::endl;
  if (!run.junit.empty() && !WriteJunit(run.junit, suites, Seconds(start))) {
    std::cerr << "sx test: cannot write " << run.junit << "\n";
    return 1;
  }
  return failed == 0 ? 0 : 1;
}

int TestCommand(const std::vector<std::string>& args, const HostOptions& host, bool verbose) {
  auto usage = [](const std::string& problem) {
    std::cerr << "sx test: " << problem << "\nTry 'sx test --help' for more information.\n";
    return 2;
  };
  TestOptions t;
  t.host = host;
  t.verbose = verbose;
  bool sync_given = host.sync != "always";
  bool flags = true;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!flags || a.empty() || a[0] != '-' || a == "-") {
      t.paths.push_back(a);
    } else if (a == "--") {
      flags = false;
    } else if (a == "-h" || a == "--help") {
      std::cout << kTestUsage;
      return 0;
    } else if (a == "-v" || a == "--verbose") {
      t.verbose = true;
    } else if (a == "--shared-store") {
      t.shared_store = true;
    } else if (a == "--junit") {
      if (i + 1 >= args.size()) return usage("--junit needs a file");
      t.junit = args[++i];
    } else if (a == "--data-dir") {
      if (i + 1 >= args.size()) return usage("--data-dir needs a directory");
      t.host.data_dir = args[++i];
    } else if (a == "--store") {
      if (i + 1 >= args.size()) return usage("--store needs a directory or a URL");
      std::string loc = args[++i];
      if (backend::IsPostgresUrl(loc)) {
        t.store_url = loc;
      } else {
        t.host.data_dir = loc;
      }
    } else if (a == "--sync") {
      if (i + 1 >= args.size()) return usage("--sync needs a mode (always, batch, never)");
      t.host.sync = args[++i];
      sync_given = true;
    } else {
      return usage("unknown option " + a);
    }
  }
  if (t.paths.empty()) return usage("test needs at least one file or folder");
  // Sync mode and segment size come from the environment as for scripts;
  // a data directory only matters for a shared store.
  if (const char* s = std::getenv("SX_PERSIST_SYNC"); s != nullptr && *s != '\0' && !sync_given) {
    t.host.sync = s;
  }
  if (const char* b = std::getenv("SX_PERSIST_SEGMENT_BYTES"); b != nullptr && *b != '\0') {
    t.host.segment_bytes = b;
  }
  if (SyncMode mode; !ParseSyncMode(t.host.sync, &mode)) {
    return usage("unknown sync mode \"" + t.host.sync + "\" (use always, batch or never)");
  }
  if (t.shared_store && !t.store_url.empty()) {
    t.host.data_dir = t.store_url;
    t.store_url.clear();
  } else if (!t.shared_store) {
    t.host.data_dir.clear();
  } else if (t.host.data_dir.empty()) {
    if (const char* d = std::getenv("SX_PERSIST_DIR"); d != nullptr && *d != '\0')
      t.host.data_dir = d;
  }
  return RunTests(t);
}

}  // namespace sx::host
