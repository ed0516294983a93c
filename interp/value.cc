// value.cc — the out-of-line parts of value.h.
#include "interp/value.h"

namespace sx::interp {

const char* TypeName(Value v) {
  if (v.IsFloat()) return "number";
  if (v.IsSmallInt()) return "integer";
  if (v.IsNil()) return "nil";
  if (v.IsBool()) return "boolean";
  if (v.IsEmptyList()) return "list";
  if (!v.IsObj()) return "undefined";
  switch (v.AsObj()->type) {
    case ObjType::kBigInt:
      return "integer";
    case ObjType::kString:
      return "string";
    case ObjType::kSymbol:
      return "symbol";
    case ObjType::kKeyword:
      return "keyword";
    case ObjType::kPair:
      return "list";
    case ObjType::kDict:
      return "dict";
    case ObjType::kClosure:
    case ObjType::kNative:
      return "fn";
    case ObjType::kMacro:
      return "macro";
    case ObjType::kError:
      return "error";
    case ObjType::kHandle:
      return "handle";
    case ObjType::kTask:
      return "task";
    case ObjType::kHamtNode:
      return "hamt-node";
    case ObjType::kEnv:
      return "env";
    case ObjType::kNode:
      return "node";
    case ObjType::kProto:
      return "proto";
    case ObjType::kVec:
      return "vec";
    case ObjType::kScope:
      return "scope";
    case ObjType::kStrBuf:
      return "strbuf";
    case ObjType::kFree:
      return "free";
  }
  return "unknown";
}

bool IsCallable(Value v) { return IsType(v, ObjType::kClosure) || IsType(v, ObjType::kNative); }

}  // namespace sx::interp
