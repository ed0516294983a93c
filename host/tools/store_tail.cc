// store_tail.cc — `sx store tail`.
#include "host/tools/store_tail.h"

#include <cstdlib>
#include <memory>

#include "host/backend/open.h"
#include "host/ops/json.h"
#include "host/ops/value_codec.h"
#include "sx/sx.h"

namespace sx::tools {

namespace {

constexpr const char* kTailUsage =
    "usage: sx store tail DIR|URL STREAM [--from N] [--follow] [--json]\n";
constexpr const char* kTailHelp =
    "Prints the stream's events, one a line (SEQ<TAB>value, or a JSON object with --json),\n"
    "from seq N (default: the first stored). The store is opened read-only, beside a running\n"
    "writer; --follow then waits for new events until killed or the output is closed.\n"
    "exit: 0 ok, 1 cannot open or read the store, 2 bad usage\n";
constexpr size_t kBatch = 1000;
constexpr int kWaitMs = 1000;

// A JSON string literal of arbitrary bytes, through json-write.
std::string JsonText(Interpreter& in, const Value& writer, const Value& v, const Value& opts,
                     bool* ok) {
  Value args[] = {v, opts};
  Outcome o = in.Call(writer, args);
  *ok = o.status == Status::kDone && o.value.IsString();
  return *ok ? o.value.AsString() : std::string();
}

class Printer {
 public:
  Printer(std::string stream, bool json, std::ostream& out)
      : stream_(std::move(stream)), json_(json), out_(out) {
    host::DefineJsonNatives(in_);
    writer_ = in_.Global("json-write");
    std::pair<std::string, Value> o[] = {{"keywords", in_.String("string")},
                                         {"big-ints", in_.String("string")}};
    opts_ = in_.Dict(o);
    bool ok;
    stream_json_ = JsonText(in_, writer_, in_.String(stream_), opts_, &ok);
  }

  // False when the value cannot be decoded.
  bool Print(const backend::Event& e, std::string* error) {
    Value v;
    if (!host::DecodeValue(in_, e.payload, &v, error)) return false;
    if (!json_) {
      out_ << e.seq << '\t' << v.Inspect() << '\n';
      return true;
    }
    bool ok;
    std::string text = JsonText(in_, writer_, v, opts_, &ok);
    out_ << "{\"stream\":" << stream_json_ << ",\"seq\":" << e.seq;
    if (ok) {
      out_ << ",\"event\":" << text << "}\n";
    } else {
      out_ << ",\"sx\":" << JsonText(in_, writer_, in_.String(v.Inspect()), opts_, &ok) << "}\n";
    }
    return true;
  }

 private:
  Interpreter in_;
  std::string stream_;
  bool json_;
  std::ostream& out_;
  Value writer_;
  Value opts_;
  std::string stream_json_;
};

}  // namespace

int StoreTail(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::vector<std::string> words;
  uint64_t from = 0;
  bool follow = false, json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      out << kTailUsage << kTailHelp;
      return 0;
    } else if (a == "--follow" || a == "-f") {
      follow = true;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--from") {
      char* end = nullptr;
      if (i + 1 >= args.size() || args[i + 1].empty() || args[i + 1][0] == '-' ||
          (from = std::strtoull(args[i + 1].c_str(), &end, 10), *end != '\0')) {
        err << "sx store tail: --from needs a seq (a number)\n" << kTailUsage;
        return 2;
      }
      ++i;
    } else if (a.size() > 1 && a[0] == '-') {
      err << "sx store tail: unknown option " << a << "\n" << kTailUsage;
      return 2;
    } else {
      words.push_back(a);
    }
  }
  if (words.size() != 2) {
    err << kTailUsage;
    return 2;
  }
  const std::string& dir = words[0];
  const std::string& stream = words[1];
  backend::OpenOptions options;
  options.read_only = true;
  std::unique_ptr<backend::Backend> b;
  backend::Status s = backend::OpenBackend(dir, options, &b);
  if (!s.ok()) {
    err << "sx store tail: " << s.ToString() << "\n";
    return 1;
  }
  Printer printer(stream, json, out);
  uint64_t next = from;
  while (true) {
    // The position first: whatever commits after it wakes the wait below.
    uint64_t seen = 0;
    s = b->CatchUp();
    if (s.ok()) s = b->CommitPosition(&seen);
    std::vector<backend::Event> events;
    while (s.ok()) {
      s = b->Read(stream, next, kBatch, &events);
      if (!s.ok() || events.empty()) break;
      for (const backend::Event& e : events) {
        std::string error;
        if (!printer.Print(e, &error)) {
          err << "sx store tail: event " << e.seq << ": " << error << "\n";
          return 1;
        }
      }
      next = events.back().seq + 1;
      out.flush();
      if (!out) return 0;  // the reader of our output has gone
    }
    if (s.ok() && follow) s = b->WaitForCommit(seen, kWaitMs, &seen);
    if (!s.ok()) {
      err << "sx store tail: " << s.ToString() << "\n";
      return 1;
    }
    if (!follow) return 0;
  }
}

}  // namespace sx::tools
