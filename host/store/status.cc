#include "host/store/status.h"

namespace sx::store {

const char* Status::CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "OK";
    case Code::kNotFound:
      return "NotFound";
    case Code::kConflict:
      return "Conflict";
    case Code::kCorruption:
      return "Corruption";
    case Code::kIOError:
      return "IOError";
    case Code::kInvalidArgument:
      return "InvalidArgument";
    case Code::kLocked:
      return "Locked";
    case Code::kNoSpace:
      return "NoSpace";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out = CodeName(code_);
  if (!msg_.empty()) {
    out += ": ";
    out += msg_;
  }
  if (code_ == Code::kConflict) {
    out += " (expected " + std::to_string(expected_) + ", actual " + std::to_string(actual_) + ")";
  }
  return out;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  Status s = *this;
  s.msg_ = std::string(context) + ": " + msg_;
  return s;
}

}  // namespace sx::store
