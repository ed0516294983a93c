// world_api.cc — AttachWorld (include/sx/world.h): the ops of the clocks,
// files and streams, the natives of time text, format and JSON, and the
// stdlib module `sys` that wraps the ops.
#include <stdexcept>
#include <string>

#include "host/ops/format.h"
#include "host/ops/json.h"
#include "host/ops/sys_ops.h"
#include "host/ops/time_natives.h"
#include "sx/persist.h"
#include "sx/world.h"

namespace sx {

void AttachWorld(Interpreter& in, const WorldOptions& options) {
  if (options.serve_ops) host::InstallSysOps(in, host::SysOptions{.exit = options.exit});
  host::DefineTimeNatives(in);
  host::DefineFormatNatives(in);
  host::DefineJsonNatives(in);
  // Evaluated from the binary's copy, never looked up on SX_PATH, so a
  // script's own sys.sx cannot stand in for it.
  std::string source;
  if (!FindStdlibModule("sys", &source)) throw std::logic_error("stdlib module sys is missing");
  Outcome o = in.Eval(source, "<stdlib>/sys.sx");
  if (o.status != Status::kDone) throw std::logic_error("stdlib sys: " + o.error_text);
}

}  // namespace sx
