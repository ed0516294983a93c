// libFuzzer target for json-read, json-read-lines and json-write.
//
// The input is JSON text (or anything). Reading it must either give a value
// or raise an SX error, never crash; reading it as JSON Lines likewise. A
// value read must write back (every value json-read makes is one JSON can
// say, given {:big-ints "number"}) to text that reads back equal?. The
// check is an SX function, so the collector runs (at closure entry) and a
// long run stays in bounded memory.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "host/ops/json.h"
#include "sx/sx.h"

namespace {

constexpr const char* kCheck = R"(
(define (%fuzz text)
  (guard (e (true nil)) (json-read-lines text))
  (let ((r (guard (e (true (list :unread))) (list :read (json-read text)))))
    (if (= (first r) :read)
        (let ((v (second r)))
          (if (equal? v (json-read (json-write v {:big-ints "number"}))) :same :different))
        :unread))))";

sx::Interpreter& Interp() {
  static sx::Interpreter* in = [] {
    auto* i = new sx::Interpreter;
    sx::host::DefineJsonNatives(*i);
    if (i->Eval(kCheck).status != sx::Status::kDone) std::abort();
    return i;
  }();
  return *in;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sx::Interpreter& in = Interp();
  sx::Value text[] = {in.String(std::string_view(reinterpret_cast<const char*>(data), size))};
  sx::Outcome o = in.Call(in.Global("%fuzz"), text);
  // An error here is json-write or the second json-read failing on what
  // json-read made; :different is a value that did not come back the same.
  if (o.status != sx::Status::kDone) std::abort();
  if (o.value.IsKeyword() && o.value.AsString() == "different") std::abort();
  return 0;
}
