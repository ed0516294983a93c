// Status and Result<T>: how every storage function reports success or why it
// failed. Storage code never throws; callers must look at the result.
//
// A Conflict carries two numbers so a caller can build a precise error: for a
// refused append, expected is the seq the store would accept (hwm + 1) or the
// caller's expected last seq, and actual is the current high-water mark.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace sx::store {

class [[nodiscard]] Status {
 public:
  enum class Code : uint8_t {
    kOk = 0,
    kNotFound,
    kConflict,
    kCorruption,
    kIOError,
    kInvalidArgument,
    kLocked,
    kNoSpace,
  };

  Status() = default;

  static Status OK() { return Status(); }
  static Status NotFound(std::string_view msg) { return Status(Code::kNotFound, msg); }
  static Status Conflict(std::string_view msg, uint64_t expected = 0, uint64_t actual = 0) {
    Status s(Code::kConflict, msg);
    s.expected_ = expected;
    s.actual_ = actual;
    return s;
  }
  static Status Corruption(std::string_view msg) { return Status(Code::kCorruption, msg); }
  static Status IOError(std::string_view msg) { return Status(Code::kIOError, msg); }
  static Status InvalidArgument(std::string_view msg) {
    return Status(Code::kInvalidArgument, msg);
  }
  static Status Locked(std::string_view msg) { return Status(Code::kLocked, msg); }
  static Status NoSpace(std::string_view msg) { return Status(Code::kNoSpace, msg); }

  bool ok() const { return code_ == Code::kOk; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsConflict() const { return code_ == Code::kConflict; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsIOError() const { return code_ == Code::kIOError; }
  bool IsInvalidArgument() const { return code_ == Code::kInvalidArgument; }
  bool IsLocked() const { return code_ == Code::kLocked; }
  bool IsNoSpace() const { return code_ == Code::kNoSpace; }

  Code code() const { return code_; }
  const std::string& message() const { return msg_; }
  uint64_t expected() const { return expected_; }
  uint64_t actual() const { return actual_; }

  // "Conflict: append to stream \"s\": seq 3 is not above 7 (expected 8, actual 7)".
  std::string ToString() const;
  static const char* CodeName(Code code);

  // The same status with "context: " in front of the message.
  Status WithContext(std::string_view context) const;

  // Marks a status as looked at when the caller deliberately ignores it.
  void IgnoreError() const {}

 private:
  Status(Code code, std::string_view msg) : code_(code), msg_(msg) {}

  Code code_ = Code::kOk;
  std::string msg_;
  uint64_t expected_ = 0;
  uint64_t actual_ = 0;
};

// A value or the Status explaining why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: must not be OK

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T* operator->() { return &*value_; }
  T& operator*() { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace sx::store
