// test_runner.h — `sx test [FLAGS] PATH...`: runs SX test files and reports.
//
// Each file runs in a fresh interpreter with the test library imported and
// a fresh temporary data directory, so suites cannot see each other's state,
// whatever --data-dir or $SX_PERSIST_DIR say; --shared-store gives every
// file one store instead (the named directory, else one temporary one).
// Tests run in definition order; a failure prints the test's name, the
// expected and actual values or the error with its backtrace, and the
// file:line:col in the test file. Each file ends with a line of its counts
// and time; the last line is "N passed, N failed". --junit FILE also writes
// the results as JUnit XML for CI systems.
#pragma once

#include <string>
#include <vector>

#include "host/cli/setup.h"

namespace sx::host {

struct TestOptions {
  std::vector<std::string> paths;  // files, or folders searched for *.sx
  bool verbose = false;            // print every passing test too
  bool shared_store = false;       // one store for every file
  std::string junit;               // write JUnit XML here (empty: none)
  // A PostgreSQL URL: each file gets a fresh schema in that database,
  // dropped after it (with shared_store: the URL as given, for every file).
  std::string store_url;
  HostOptions host;  // data_dir: the shared store's (with shared_store)
};

// Returns the process exit status: 0 when every test passed.
int RunTests(const TestOptions& opts);

// `sx test ARGS...`: parses the flags among ARGS (those given before
// `test` arrive in `host` and `verbose`) and runs. Exit status 2 for bad
// usage.
int TestCommand(const std::vector<std::string>& args, const HostOptions& host, bool verbose);

}  // namespace sx::host
