// stdlib_modules.h — the SX standard library sources built into the binary.
#pragma once

namespace sx::host {

struct StdlibModule {
  const char* name;  // "test", "persist", "persist/log", ...
  const char* source;
};

// Every module, terminated by {nullptr, nullptr}. Generated at build time.
const StdlibModule* StdlibModules();

}  // namespace sx::host
