// test_runner.h — `sx test PATH...`: runs SX test files and reports.
//
// Each file runs in a fresh interpreter with the test library imported and,
// unless the caller names one, a fresh temporary data directory, so suites
// cannot see each other's state. Tests run in definition order; a failure
// prints the test's name, the expected and actual values and the file:line of
// the assertion. The last line is "N passed, N failed".
#pragma once

#include <string>
#include <vector>

#include "host/setup.h"

namespace sx::host {

struct TestOptions {
  std::vector<std::string> paths;  // files, or folders searched for *.sx
  bool verbose = false;            // print every passing test too
  HostOptions host;                // data_dir empty: a temporary one per file
};

// Returns the process exit status: 0 when every test passed.
int RunTests(const TestOptions& opts);

}  // namespace sx::host
