// export.cc — the export format (JSON Lines, version 1), its writer and its
// reader, and the import of the reference host's data directory.
//
// JSON is written by JsonOut (host/tools/json_out.h) and parsed by
// RapidJSON. A stored value goes to JSON and back straight from and to its
// binary encoding (host/tools/value_json.h); both recurse once per level of
// nesting, which the codec bounds (Limits::max_read_depth).
#include "host/tools/export.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "host/backend/open.h"
#include "host/ops/utf8_check.h"
#include "host/ops/value_codec.h"
#include "host/ops/value_format.h"
#include "host/store/progress.h"
#include "host/store/rose_ash.h"
#include "host/store/store.h"
#include "host/tools/value_json.h"
#include "sx/sx.h"

namespace sx::tools {
namespace {

constexpr char kFormatName[] = "sx-store-export";
constexpr int kFormatVersion = 1;

// A stored payload or value, as the members "value" (decoded) or "raw"
// (hex of bytes that are no stored value, kept as they are). The binary
// encoding is turned into JSON directly; the text form of older stores is
// decoded and encoded in binary first. With fast, false when the line must
// be written again without (BinaryToJsonFast).
bool WriteStored(Interpreter& in, JsonOut& w, std::string_view bytes, bool fast) {
  std::string binary;
  if (!bytes.empty() && static_cast<uint8_t>(bytes[0]) != host::value_format::kBinaryV1 &&
      static_cast<uint8_t>(bytes[0]) >= host::value_format::kFirstTextByte) {
    Value v;
    std::string error;
    if (host::DecodeValue(in, bytes, &v, &error) && host::EncodeValue(in, v, &binary, &error)) {
      bytes = binary;
    }
  }
  if (!bytes.empty() && static_cast<uint8_t>(bytes[0]) == host::value_format::kBinaryV1) {
    if (fast) return BinaryToJsonFast(bytes.substr(1), w, "value");
    if (BinaryToJson(bytes.substr(1), w, "value")) return true;
  }
  w.Key("raw");
  w.String(Hex(bytes));
  return true;
}

// Lines gather in one buffer, written out a megabyte at a time. Start
// again before Finish drops the line begun.
class LineWriter {
 public:
  explicit LineWriter(std::ostream& out) : out_(out) {}
  ~LineWriter() { Flush(); }
  JsonOut& w() { return w_; }
  void Start() {
    if (open_) w_.Truncate(mark_);
    mark_ = w_.size();
    open_ = true;
    w_.StartObject();
  }
  void Finish() {
    w_.EndObject();
    w_.NewLine();
    open_ = false;
    if (w_.size() >= (1u << 20)) Flush();
  }
  void Flush() {
    out_.write(w_.data(), static_cast<std::streamsize>(w_.size()));
    w_.Clear();
  }

 private:
  std::ostream& out_;
  JsonOut w_;
  size_t mark_ = 0;
  bool open_ = false;
};

// The members every event line of a stream starts with, through the key
// of its seq: {"kind":"event","stream":NAME,"seq": less the brace.
std::string EventLineStart(std::string_view stream) {
  JsonOut w;
  w.Key("kind");
  w.String("event");
  w.Key("stream");
  WriteBytes(w, stream);
  w.Key("seq");
  return std::string(w.data(), w.size());
}

// ---------------------------------------------------------------- import

std::string ShortStatus(const store::Status& s) { return s.ToString(); }

class Importer {
 public:
  Importer(std::ostream& err, ImportReport* report) : err_(err), report_(report) {}

  int Open(const std::string& dir) {
    if (store::LooksLikeRoseAshDir(store::Env::Default(), dir)) {
      err_ << "store import: " << dir
           << " is a data directory of the reference host, not an sx store; import into a new "
              "directory\n";
      return 1;
    }
    backend::OpenOptions options;
    options.sync = store::SyncMode::kNever;  // one sync at the end
    options.auto_compact = false;
    store::Status s = backend::OpenBackend(dir, options, &store_);
    if (!s.ok()) {
      err_ << "store import: " << ShortStatus(s) << "\n";
      return 1;
    }
    return 0;
  }

  Interpreter& in() { return in_; }

  // Queues an append. False (said on err) if seq does not rise.
  bool Append(const std::string& stream, uint64_t seq, std::string payload,
              const std::string& where) {
    uint64_t& last = Last(stream);
    if (seq <= last) {
      err_ << "store import: " << where << ": stream " << Quote(stream) << ": seq " << seq
           << " is not above the last seq " << last << "; nothing from here on is imported\n";
      return false;
    }
    last = seq;
    batch_.Append(stream, seq, std::move(payload));
    ++report_->events;
    return MaybeFlush();
  }

  // A stream whose events were all truncated keeps its last seq: an event
  // at that seq, truncated in the same commit.
  bool KeepLastSeq(const std::string& stream, uint64_t last_seq, const std::string& where) {
    uint64_t& last = Last(stream);
    if (last_seq <= last) return true;
    if (last > 0) {
      // Only a stream holding no event can keep a last seq above its events.
      err_ << "store import: note: " << where << ": stream " << Quote(stream) << " counts seq "
           << last_seq << " but its last event is seq " << last << "; its last seq is " << last
           << "\n";
      return true;
    }
    if (!Append(stream, last_seq, std::string(), where)) return false;
    --report_->events;
    batch_.TruncateThrough(stream, last_seq);
    return MaybeFlush();
  }

  bool KvPut(const std::string& key, std::string value) {
    batch_.KvPut(key, std::move(value));
    ++report_->kv;
    return MaybeFlush();
  }

  bool BlobPut(const std::string& bytes, std::string* cid) {
    if (!Flush()) return false;
    store::Status s = store_->BlobPut(bytes, cid);
    if (!s.ok()) {
      err_ << "store import: blob: " << ShortStatus(s) << "\n";
      return false;
    }
    ++report_->blobs;
    return true;
  }

  bool Flush() {
    if (batch_.empty()) return true;
    store::Status s = store_->Commit(batch_);
    batch_.Clear();
    pending_bytes_ = 0;
    if (!s.ok()) {
      err_ << "store import: " << ShortStatus(s) << "\n";
      return false;
    }
    return true;
  }

  // Flushes and syncs; the exit code.
  int Finish(bool ok) {
    ok = Flush() && ok;
    store::Status s = store_->Sync();
    std::vector<std::string> streams;
    if (s.ok()) s = store_->Streams(&streams);
    if (!s.ok()) {
      err_ << "store import: " << ShortStatus(s) << "\n";
      return 1;
    }
    report_->streams = streams.size();
    return ok ? 0 : 1;
  }

  static std::string Quote(std::string_view s) {
    return "\"" + store::EscapeBytes(s, 64, /*utf8=*/true) + "\"";
  }

 private:
  uint64_t& Last(const std::string& stream) {
    auto it = last_.find(stream);
    if (it == last_.end()) {
      uint64_t seq = 0;
      store::Status s = store_->LastSeq(stream, &seq);
      if (!s.ok())
        err_ << "store import: stream " << Quote(stream) << ": " << ShortStatus(s) << "\n";
      it = last_.emplace(stream, seq).first;
    }
    return it->second;
  }

  bool MaybeFlush() {
    const auto& op = batch_.ops().back();
    pending_bytes_ += op.name.size() + (op.value ? op.value->size() : 0);
    if (batch_.size() < 4096 && pending_bytes_ < (8u << 20)) return true;
    return Flush();
  }

  std::ostream& err_;
  ImportReport* report_;
  Interpreter in_;
  std::unique_ptr<backend::Backend> store_;
  store::WriteBatch batch_;
  size_t pending_bytes_ = 0;
  std::map<std::string, uint64_t> last_;
};

bool Encode(Interpreter& in, const Value& v, std::string* out, std::string* error) {
  out->clear();
  return host::EncodeValue(in, v, out, error);
}

}  // namespace

// ---------------------------------------------------------------- export

namespace {

// The events of the streams to export, read on a thread of its own while
// the caller writes them as JSON: reading walks the log and writing
// transcodes, and the two overlap on a machine with a second core. At most
// kAhead batches wait between them. Only this thread uses the backend until
// the reader is destroyed.
class StreamReader {
 public:
  struct Batch {
    size_t stream = 0;  // index into the names
    bool head = false;  // the stream's bounds, first and last; no events
    uint64_t first = 0, last = 0;
    std::vector<backend::Event> events;
    store::Status status;  // a failed read: the last batch
  };

  StreamReader(backend::Backend* b, const std::vector<std::string>& names)
      : b_(b), names_(names), thread_([this] { Run(); }) {}
  ~StreamReader() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  // The next batch, in stream order; false once every stream is read.
  bool Next(Batch* out) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !queue_.empty() || done_; });
    if (queue_.empty()) return false;
    *out = std::move(queue_.front());
    queue_.pop_front();
    cv_.notify_all();
    return true;
  }

 private:
  static constexpr size_t kAhead = 4;

  // False once the consumer has gone.
  bool Put(Batch batch) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return queue_.size() < kAhead || stop_; });
    if (stop_) return false;
    queue_.push_back(std::move(batch));
    cv_.notify_all();
    return true;
  }

  void Run() {
    for (size_t i = 0; i < names_.size() && ReadStream(i); ++i) {
    }
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    cv_.notify_all();
  }

  // False when reading stops: a failure, or the consumer gone.
  bool ReadStream(size_t i) {
    Batch head;
    head.stream = i;
    head.head = true;
    head.status = b_->LastSeq(names_[i], &head.last);
    if (head.status.ok()) head.status = b_->FirstSeq(names_[i], &head.first);
    bool ok = head.status.ok() && head.last > 0;
    uint64_t from = head.first, last = head.last;
    if (!Put(std::move(head)) || !ok) return false;
    while (from <= last) {
      Batch batch;
      batch.stream = i;
      batch.status = b_->Read(names_[i], from, 4096, &batch.events);
      bool more = batch.status.ok() && !batch.events.empty();
      if (more) from = batch.events.back().seq + 1;
      bool failed = !batch.status.ok();
      if ((more || failed) && !Put(std::move(batch))) return false;
      if (failed) return false;
      if (!more) break;
    }
    return true;
  }

  backend::Backend* b_;
  const std::vector<std::string>& names_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch> queue_;
  bool stop_ = false;   // the consumer has gone
  bool done_ = false;   // every batch is queued
  std::thread thread_;  // last: started once the rest is set up
};

}  // namespace

int ExportStore(const std::string& dir, const ExportOptions& options, std::ostream& out,
                std::ostream& err) {
  if (store::LooksLikeRoseAshDir(store::Env::Default(), dir)) {
    err << "store export: " << store::RoseAshHint(dir) << "\n";
    return 1;
  }
  backend::OpenOptions so;
  so.read_only = true;  // and so never created
  std::unique_ptr<backend::Backend> st;
  // A read-only open beside a running writer can meet the record the
  // writer is writing, which reads as damage in mid-log: such an open is
  // tried again (real damage stays, and is reported after the last try).
  store::Status s;
  for (int attempt = 0; attempt < 10; ++attempt) {
    s = backend::OpenBackend(dir, so, &st);
    if (!s.IsCorruption()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!s.ok()) {
    err << "store export: " << s.ToString() << "\n";
    return 1;
  }
  Interpreter in;
  LineWriter line(out);
  line.Start();
  line.w().Key("format");
  line.w().String(kFormatName);
  line.w().Key("version");
  line.w().Int64(kFormatVersion);
  line.Finish();

  std::vector<std::string> streams;
  if (options.events) {
    streams = options.streams;
    if (streams.empty()) s = st->Streams(&streams);
  }
  // The total only feeds the progress line; PostgreSQL counts it with a
  // query over every event, so it is asked only when progress is shown.
  backend::Stats stats;
  if (s.ok() && options.progress) s = st->GetStats(&stats);
  if (!s.ok()) {
    err << "store export: " << s.ToString() << "\n";
    return 1;
  }
  uint64_t total = 0;
  for (const auto& [stat, n] : stats) {
    if (stat == "events") total = n;
  }
  // A failed read of a stream's bounds or a key is said and ends the export.
  auto fail = [&](const char* kind, const std::string& name, const store::Status& why) {
    err << "store export: " << kind << " " << Importer::Quote(name) << ": " << why.ToString()
        << "\n";
    return 1;
  };
  bool kv = options.streams.empty() || options.kv;
  store::Progress progress(err, "export: events", total, options.progress);
  uint64_t done = 0;
  {
    StreamReader reader(st.get(), streams);
    StreamReader::Batch b;
    std::string event_start;
    while (reader.Next(&b)) {
      const std::string& name = streams[b.stream];
      if (!b.status.ok()) return fail("stream", name, b.status);
      if (b.head) {
        if (b.last == 0) {
          err << "store export: no stream " << Importer::Quote(name) << "\n";
          return 1;
        }
        line.Start();
        line.w().Key("kind");
        line.w().String("stream");
        line.w().Key("stream");
        WriteBytes(line.w(), name);
        line.w().Key("first_seq");
        line.w().Uint64(b.first);
        line.w().Key("last_seq");
        line.w().Uint64(b.last);
        line.Finish();
        event_start = EventLineStart(name);
        continue;
      }
      for (const backend::Event& e : b.events) {
        for (bool fast : {true, false}) {
          line.Start();
          line.w().RawThroughKey(event_start);
          line.w().Uint64(e.seq);
          if (WriteStored(in, line.w(), e.payload, fast)) break;
        }
        line.Finish();
      }
      done += b.events.size();
      progress.Update(done);
    }
  }
  if (kv) {
    std::string value;
    std::vector<std::string> keys;
    s = st->KvKeys(&keys);
    if (!s.ok()) {
      err << "store export: kv keys: " << s.ToString() << "\n";
      return 1;
    }
    for (const std::string& key : keys) {
      s = st->KvGet(key, &value);
      if (!s.ok()) {
        err << "store export: key " << Importer::Quote(key) << ": " << s.ToString() << "\n";
        return 1;
      }
      for (bool fast : {true, false}) {
        line.Start();
        line.w().Key("kind");
        line.w().String("kv");
        line.w().Key("key");
        WriteBytes(line.w(), key);
        if (WriteStored(in, line.w(), value, fast)) break;
      }
      line.Finish();
    }
  }
  line.Flush();
  out.flush();
  if (!out) {
    err << "store export: cannot write the output\n";
    return 1;
  }
  return 0;
}

// ---------------------------------------------------------------- import

namespace {

// The stored bytes of a line's "value" or "raw" member.
bool StoredBytes(Interpreter& in, const rapidjson::Value& line, std::string* out,
                 std::string* error) {
  auto raw = line.FindMember("raw");
  if (raw != line.MemberEnd()) {
    if (!raw->value.IsString() ||
        !Unhex(std::string_view(raw->value.GetString(), raw->value.GetStringLength()), out)) {
      *error = "\"raw\" is not a hex string";
      return false;
    }
    return true;
  }
  auto value = line.FindMember("value");
  if (value == line.MemberEnd()) {
    *error = "no \"value\"";
    return false;
  }
  out->clear();
  return JsonToBinary(value->value, in.GetLimits().max_read_depth, out, error);
}

// A seq: 1 to 2^63-1 (a first_seq may be one more: a full stream holding none).
bool GetSeq(const rapidjson::Value& line, const char* name, uint64_t* seq) {
  auto it = line.FindMember(name);
  if (it == line.MemberEnd() || !it->value.IsUint64()) return false;
  *seq = it->value.GetUint64();
  uint64_t max = static_cast<uint64_t>(INT64_MAX) + (std::strcmp(name, "first_seq") == 0);
  return *seq > 0 && *seq <= max;
}

}  // namespace

int ImportStore(const std::string& dir, std::istream& input, bool show_progress,
                ImportReport* report, std::ostream& err) {
  Importer im(err, report);
  std::string text;
  uint64_t lineno = 0;
  auto bad = [&](const std::string& why) {
    err << "store import: line " << lineno << ": " << why << "\n";
    return 1;
  };
  if (!std::getline(input, text)) {
    err << "store import: the input is empty (an export starts with a header line)\n";
    return 1;
  }
  lineno = 1;
  {
    rapidjson::Document header;
    header.Parse(text.data(), text.size());
    if (header.HasParseError() || !header.IsObject() || !header.HasMember("format") ||
        !header["format"].IsString() || std::strcmp(header["format"].GetString(), kFormatName) ||
        !header.HasMember("version") || !header["version"].IsInt()) {
      return bad(std::string("not an export: the first line must be {\"format\":\"") + kFormatName +
                 "\",\"version\":N}");
    }
    if (header["version"].GetInt() != kFormatVersion) {
      return bad("export format version " + std::to_string(header["version"].GetInt()) +
                 " is not one this sx reads (it reads version " + std::to_string(kFormatVersion) +
                 ")");
    }
  }
  if (int rc = im.Open(dir)) return rc;
  store::Progress progress(err, "import: lines", 0, show_progress);
  Interpreter& in = im.in();
  std::string name, bytes, error;
  bool ok = true;
  while (ok && std::getline(input, text)) {
    ++lineno;
    progress.Update(lineno);
    if (text.empty()) continue;
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
    if (doc.HasParseError()) {
      bad(std::string("bad JSON at column ") + std::to_string(doc.GetErrorOffset() + 1) + ": " +
          rapidjson::GetParseError_En(doc.GetParseError()));
      ok = false;
      break;
    }
    auto kind = doc.IsObject() ? doc.FindMember("kind") : doc.MemberEnd();
    if (!doc.IsObject() || kind == doc.MemberEnd() || !kind->value.IsString()) {
      bad("a line must be an object with a \"kind\"");
      ok = false;
      break;
    }
    std::string_view k(kind->value.GetString(), kind->value.GetStringLength());
    std::string where = "line " + std::to_string(lineno);
    uint64_t seq = 0;
    if (k == "event" || k == "stream") {
      auto st = doc.FindMember("stream");
      if (st == doc.MemberEnd() || !ReadBytes(st->value, &name) || name.empty()) {
        bad("\"stream\" must be a non-empty name");
        ok = false;
      } else if (k == "stream") {
        // The events that follow carry the stream to its last seq; a stream
        // holding none (first_seq above last_seq) keeps its last seq here.
        uint64_t first = 0;
        if (!GetSeq(doc, "last_seq", &seq) || !GetSeq(doc, "first_seq", &first)) {
          bad("\"first_seq\" and \"last_seq\" must be seqs (1 to 2^63-1)");
          ok = false;
        } else if (first > seq) {
          ok = im.KeepLastSeq(name, seq, where);
        }
      } else if (!GetSeq(doc, "seq", &seq)) {
        bad("\"seq\" must be a seq (1 to 2^63-1)");
        ok = false;
      } else if (!StoredBytes(in, doc, &bytes, &error)) {
        bad(error);
        ok = false;
      } else {
        ok = im.Append(name, seq, std::move(bytes), where);
      }
    } else if (k == "kv") {
      auto key = doc.FindMember("key");
      if (key == doc.MemberEnd() || !ReadBytes(key->value, &name)) {
        bad("\"key\" must be a name");
        ok = false;
      } else if (!StoredBytes(in, doc, &bytes, &error)) {
        bad(error);
        ok = false;
      } else {
        ok = im.KvPut(name, std::move(bytes));
      }
    } else {
      bad("unknown kind \"" + std::string(k) + "\"");
      ok = false;
    }
  }
  progress.Done();
  return im.Finish(ok);
}

// ---------------------------------------------------------------- rose-ash

namespace {

bool ListFiles(const std::string& dir, std::vector<std::string>* names, std::ostream& err) {
  names->clear();
  store::Env* env = store::Env::Default();
  if (!env->DirExists(dir)) return true;
  store::Status s = env->ListDir(dir, names);
  if (!s.ok()) {
    err << "store import: " << s.ToString() << "\n";
    return false;
  }
  std::sort(names->begin(), names->end());
  return true;
}

bool HasSuffix(const std::string& s, std::string_view suffix, std::string* stem) {
  if (s.size() < suffix.size() || s.compare(s.size() - suffix.size(), suffix.size(), suffix)) {
    return false;
  }
  *stem = s.substr(0, s.size() - suffix.size());
  return true;
}

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

}  // namespace

int ImportRoseAsh(const std::string& dir, const std::string& src, bool show_progress,
                  ImportReport* report, std::ostream& err) {
  store::Env* env = store::Env::Default();
  if (!store::LooksLikeRoseAshDir(env, src)) {
    err << "store import: " << src
        << " is not a data directory of the reference host (it has no streams/ or kv/ folder)\n";
    return 1;
  }
  Importer im(err, report);
  if (int rc = im.Open(dir)) return rc;
  Interpreter& in = im.in();
  std::vector<std::string> files;
  std::string stem, name, text, bytes, error;
  bool ok = ListFiles(src + "/streams", &files, err);
  store::Progress progress(err, "import: streams", files.size() / 2, show_progress);
  uint64_t done = 0;
  for (const std::string& file : files) {
    if (!ok) break;
    if (!HasSuffix(file, ".log", &stem)) continue;
    progress.Update(++done);
    std::string path = src + "/streams/" + file;
    if (!Unhex(stem, &name) || name.empty()) {
      err << "store import: " << path << ": the file name is not the hex of a stream name\n";
      ok = false;
      break;
    }
    store::Status s = store::ReadFileToString(env, path, &text);
    if (!s.ok()) {
      err << "store import: " << s.ToString() << "\n";
      ok = false;
      break;
    }
    size_t start = 0, lineno = 0;
    while (ok && start < text.size()) {
      size_t nl = text.find('\n', start);
      if (nl == std::string::npos) nl = text.size();
      std::string_view line(text.data() + start, nl - start);
      start = nl + 1;
      ++lineno;
      if (Trim(std::string(line)).empty()) continue;
      std::string where = path + ":" + std::to_string(lineno);
      Value event;
      if (!in.Deserialize(line, &event, &error)) {
        err << "store import: " << where << ": " << error << "\n";
        ok = false;
        break;
      }
      Value seq = event.IsDict() ? event.Get("seq") : Value();
      if (!seq.IsInt() || seq.AsInt() <= 0) {
        err << "store import: " << where << ": the event has no positive integer :seq\n";
        ok = false;
        break;
      }
      if (!Encode(in, event, &bytes, &error)) {
        err << "store import: " << where << ": " << error << "\n";
        ok = false;
        break;
      }
      ok = im.Append(name, static_cast<uint64_t>(seq.AsInt()), std::move(bytes), where);
    }
    // The high-water mark: above the last event when the reference host
    // truncated the stream's end or counted a seq it never wrote.
    std::string seq_path = src + "/streams/" + stem + ".seq";
    if (ok && store::ReadFileToString(env, seq_path, &text).ok()) {
      text = Trim(text);
      uint64_t hwm = 0;
      auto r = std::from_chars(text.data(), text.data() + text.size(), hwm);
      if (r.ec != std::errc() || r.ptr != text.data() + text.size() || hwm > INT64_MAX) {
        err << "store import: " << seq_path << ": not a seq: \"" << text << "\"\n";
        ok = false;
      } else if (hwm > 0) {
        ok = im.KeepLastSeq(name, hwm, seq_path);
      }
    }
  }
  progress.Done();
  if (ok) ok = ListFiles(src + "/kv", &files, err);
  for (const std::string& file : files) {
    if (!ok) break;
    std::string path = src + "/kv/" + file;
    Value v;
    if (!Unhex(file, &name) || name.empty()) {
      err << "store import: " << path << ": the file name is not the hex of a key\n";
      ok = false;
    } else if (store::Status s = store::ReadFileToString(env, path, &text); !s.ok()) {
      err << "store import: " << s.ToString() << "\n";
      ok = false;
    } else if (!in.Deserialize(Trim(text), &v, &error) || !Encode(in, v, &bytes, &error)) {
      err << "store import: " << path << ": " << error << "\n";
      ok = false;
    } else {
      ok = im.KvPut(name, std::move(bytes));
    }
  }
  if (ok) ok = ListFiles(src + "/blobs", &files, err);
  for (const std::string& file : files) {
    if (!ok) break;
    std::string path = src + "/blobs/" + file, cid;
    if (store::Status s = store::ReadFileToString(env, path, &text); !s.ok()) {
      err << "store import: " << s.ToString() << "\n";
      ok = false;
    } else if ((ok = im.BlobPut(text, &cid)) && cid != file) {
      err << "store import: note: blob " << path << " is stored as " << cid << "\n";
    }
  }
  return im.Finish(ok);
}

}  // namespace sx::tools
