// libFuzzer target for the reader and printer.
//
// The input is split in two: the first byte chooses a chunk size, the rest is
// SX source. It is read twice, whole and in chunks, and both readings must
// agree (same forms, or the same error at the same place). Every form read
// must print to text that reads back to an equal value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "interp/equal.h"
#include "interp/native.h"
#include "interp/printer.h"
#include "interp/reader.h"
#include "interp/state.h"

namespace {

using sx::interp::Reader;
using sx::interp::State;
using sx::interp::Value;

struct Reading {
  std::vector<Value> forms;
  bool failed = false;
  sx::interp::ReadError error;
};

Reading ReadAll(State& S, std::string_view text, size_t chunk) {
  Reading out;
  Reader reader(S, "fuzz");
  Value v;
  for (size_t i = 0; i <= text.size(); i += chunk) {
    if (i < text.size()) reader.Feed(text.substr(i, chunk));
    if (i + chunk > text.size()) reader.Finish();
    for (;;) {
      Reader::Status st = reader.Next(&v);
      if (st == Reader::Status::kValue) {
        out.forms.push_back(v);
      } else {
        if (st == Reader::Status::kError) {
          out.failed = true;
          out.error = reader.error();
          return out;
        }
        break;
      }
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static State* S = [] {
    auto* s = new State();
    s->limits.max_read_depth = 500;  // keeps each run fast; the limit path stays covered
    return s;
  }();
  if (size == 0) return 0;
  size_t chunk = 1 + data[0] % 8;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  Reading whole = ReadAll(*S, text, text.size() + 1);
  Reading chunked = ReadAll(*S, text, chunk);
  if (whole.failed != chunked.failed || whole.forms.size() != chunked.forms.size()) std::abort();
  if (whole.failed && (whole.error.message != chunked.error.message ||
                       whole.error.pos.line != chunked.error.pos.line ||
                       whole.error.pos.col != chunked.error.pos.col)) {
    std::abort();
  }
  for (size_t i = 0; i < whole.forms.size(); ++i) {
    Value v = whole.forms[i];
    if (!sx::interp::Equal(v, chunked.forms[i])) std::abort();
    std::string printed = sx::interp::Inspect(*S, v);
    Value back;
    try {
      back = sx::interp::ReadString(*S, printed);
    } catch (const sx::interp::SxThrow&) {
      std::abort();  // the printer wrote something the reader refuses
    }
    if (!sx::interp::Equal(v, back)) std::abort();
    if (sx::interp::Inspect(*S, back) != printed) std::abort();
  }
  S->heap.Collect();  // nothing from this run is rooted
  return 0;
}
