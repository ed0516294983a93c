// time_natives.h — iso-time and parse-iso-time: milliseconds since the epoch
// to ISO 8601 UTC text and back. Pure, so natives rather than ops; the
// clocks themselves are ops (sys_ops.h).
#pragma once

#include "sx/sx.h"

namespace sx::host {

void DefineTimeNatives(Interpreter& in);

}  // namespace sx::host
