// main.cc — the `sx` command: argument parsing and dispatch.
//
//   sx [OPTIONS] FILE [ARGS...]   run a script
//   sx [OPTIONS] -e EXPR          evaluate EXPR and print its value
//   sx [OPTIONS] test [FLAGS] PATH...  run SX test files (test_runner.cc)
//   sx store stats|dump|verify|compact|backup|salvage|export|import DIR ...
//   sx store tail DIR STREAM [--from N] [--follow] [--json]
//   sx [OPTIONS]                  the REPL (or read forms from a pipe)
//
// Exit status: 0 success, 1 an SX error (or failed tests), 2 bad usage.
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "host/cli/repl.h"
#include "host/cli/setup.h"
#include "host/cli/test_runner.h"
#include "host/store/tools.h"
#include "host/tools/export.h"
#include "sx/persist.h"

namespace {

constexpr const char* kUsage = R"(usage: sx [OPTIONS] FILE [ARGS...]   run a script
       sx [OPTIONS] -e EXPR          evaluate EXPR and print its value
       sx [OPTIONS] test PATH...     run SX test files (folders: every *.sx);
                                     flags: `sx test --help`
       sx store stats|dump|verify|compact|backup|salvage DIR [--json]
       sx store export DIR|URL [--stream S]... [--kv]
       sx store import DIR|URL FILE|-   (or --from rose-ash SRC)
       sx store tail DIR|URL STREAM [--from N] [--follow] [--json]
                                     (URL: a PostgreSQL store; also `stats URL`)
                                     each: `sx store CMD --help`
       sx [OPTIONS]                  start the REPL (reads forms from a pipe)

options:
  -e, --eval EXPR     evaluate EXPR, print the result as `inspect` would
  --data-dir DIR      where persist/* ops keep their data
                      (default: $SX_PERSIST_URL, else $SX_PERSIST_DIR, else ./persist-data)
  --store LOCATION    a store directory as --data-dir, or a PostgreSQL URL
                      postgres://USER@HOST:PORT/DB[?schema=NAME] (docs/postgres.md)
  --sync MODE         always (default), batch or never; also $SX_PERSIST_SYNC
  --read-only         open the store without its lock, beside a running writer;
                      write ops fail (also $SX_PERSIST_READ_ONLY=1)
  --repl              start the REPL even when stdin is not a terminal
  -v, --verbose       sx test: list passing tests too (more: sx test --help)
  -h, --help          show this help
  --version           show the version

environment:
  SX_PERSIST_URL                    default for --store (wins over SX_PERSIST_DIR)
  SX_PERSIST_DIR, SX_PERSIST_SYNC   defaults for --data-dir and --sync
  SX_PERSIST_READ_ONLY=1            as --read-only
  SX_PERSIST_SEGMENT_BYTES          size of new store log segments (default 64 MiB;
                                    small values are for tests)
  SX_PATH                           extra directories searched by (import name)

exit status: 0 success, 1 an SX error or a failed test, 2 bad usage
)";

int Usage(const std::string& problem) {
  std::cerr << "sx: " << problem << "\n"
            << "Try 'sx --help' for more information.\n";
  return 2;
}

int Report(const sx::Outcome& o) {
  if (o.status == sx::Status::kDone) return 0;
  std::cerr << o.error_text << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  sx::host::HostOptions opts;
  std::string expr;
  bool have_expr = false, force_repl = false, verbose = false;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const char* name) -> const std::string* {
      if (i + 1 >= args.size()) return nullptr;
      (void)name;
      return &args[++i];
    };
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--version") {
      std::cout << "sx " << sx::Version() << "\n";
      return 0;
    } else if (a == "-e" || a == "--eval") {
      const std::string* v = value("-e");
      if (v == nullptr) return Usage(a + " needs an expression");
      expr = *v;
      have_expr = true;
    } else if (a == "--data-dir" || a == "--store") {
      const std::string* v = value(a.c_str());
      if (v == nullptr)
        return Usage(a + " needs a directory" + (a == "--store" ? " or a URL" : ""));
      opts.data_dir = *v;
    } else if (a == "--sync") {
      const std::string* v = value("--sync");
      if (v == nullptr) return Usage("--sync needs a mode (always, batch, never)");
      if (sx::SyncMode mode; !sx::ParseSyncMode(*v, &mode)) {
        return Usage("--sync: unknown mode \"" + *v + "\" (use always, batch or never)");
      }
      opts.sync = *v;
    } else if (a == "--read-only") {
      opts.read_only = true;
    } else if (a == "--repl") {
      force_repl = true;
    } else if (a == "-v" || a == "--verbose") {
      verbose = true;
    } else if (a == "--") {
      ++i;
      break;
    } else if (a.size() > 1 && a[0] == '-') {
      return Usage("unknown option " + a);
    } else {
      break;
    }
  }
  std::vector<std::string> rest(args.begin() + static_cast<long>(i), args.end());

  if (!rest.empty() && rest[0] == "store" && !have_expr) {
    std::vector<std::string> tool_args(rest.begin() + 1, rest.end());
    return sx::tools::RunStoreCommand(tool_args, std::cout, std::cerr);
  }
  if (!rest.empty() && rest[0] == "test" && !have_expr) {
    return sx::host::TestCommand(std::vector<std::string>(rest.begin() + 1, rest.end()), opts,
                                 verbose);
  }

  sx::host::ApplyEnvironment(&opts);
  if (sx::SyncMode mode; !sx::ParseSyncMode(opts.sync, &mode)) {
    return Usage("SX_PERSIST_SYNC: unknown mode \"" + opts.sync + "\"");
  }
  if (have_expr) {
    opts.script_args = rest;
    sx::host::Host host(opts);
    sx::Interpreter& in = host.interp();
    sx::Outcome o = in.Run(in.Eval(expr, "<eval>"));
    if (o.status == sx::Status::kDone) std::cout << o.value.Inspect() << "\n";
    return Report(o);
  }
  if (!rest.empty()) {
    const std::string& file = rest[0];
    if (access(file.c_str(), R_OK) != 0) {
      std::cerr << "sx: cannot read " << file << ": " << std::strerror(errno) << "\n";
      return 2;
    }
    // Only a regular file is a script: a directory would run as nothing,
    // and a device such as /dev/zero would be read forever.
    struct stat st;
    if (stat(file.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      std::cerr << "sx: cannot run " << file << ": "
                << (S_ISDIR(st.st_mode) ? "it is a directory" : "not a regular file") << "\n";
      return 2;
    }
    opts.script_args.assign(rest.begin() + 1, rest.end());
    sx::host::Host host(opts);
    sx::Interpreter& in = host.interp();
    std::cout << std::flush;
    return Report(in.Run(in.EvalFile(file)));
  }
  sx::host::Host host(opts);
  bool interactive = force_repl || isatty(STDIN_FILENO);
  return sx::host::RunRepl(host, interactive);
}
