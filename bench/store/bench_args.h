// bench_args.h — the command line and scratch directory the store
// benchmarks share: NAME [--quick] [--dir DIR].
#pragma once

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace sx::bench {

struct BenchArgs {
  bool quick = false;
  std::string root;  // a fresh, empty scratch directory under --dir (default /var/tmp)
};

// False (after printing the usage line) on a bad command line.
inline bool ParseBenchArgs(int argc, char** argv, const char* name, BenchArgs* out) {
  std::string base = "/var/tmp";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") {
      out->quick = true;
    } else if (a == "--dir" && i + 1 < argc) {
      base = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--dir DIR]\n", name);
      return false;
    }
  }
  out->root = base + "/sx_" + name + "_" + std::to_string(::getpid());
  std::filesystem::remove_all(out->root);
  std::filesystem::create_directories(out->root);
  return true;
}

}  // namespace sx::bench
