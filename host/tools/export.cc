// export.cc — the export format (JSON Lines, version 1), its writer and its
// reader, and the import of the reference host's data directory.
//
// JSON is written and parsed by RapidJSON. A value is written by walking it
// (Value::Items, Value::Entries) and read back by building it with the
// interpreter's constructors; both recurse once per level of nesting, which
// the codec bounds (Limits::max_read_depth).
#include "host/tools/export.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>

#include "host/ops/utf8_check.h"
#include "host/ops/value_codec.h"
#include "host/store/progress.h"
#include "host/store/rose_ash.h"
#include "host/store/store.h"
#include "sx/sx.h"

namespace sx::tools {
namespace {

constexpr char kFormatName[] = "sx-store-export";
constexpr int kFormatVersion = 1;

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// ---------------------------------------------------------------- bytes

std::string Hex(std::string_view s) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char c : s) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool Unhex(std::string_view hex, std::string* out) {
  if (hex.size() % 2 != 0) return false;
  out->clear();
  out->reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = HexDigit(hex[i]), lo = HexDigit(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi << 4 | lo));
  }
  return true;
}

// Bytes: a JSON string when they are UTF-8, else {"hex": "..."}.
void WriteBytes(Writer& w, std::string_view s) {
  size_t bad;
  if (host::ValidUtf8(s, &bad)) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    return;
  }
  std::string hex = Hex(s);
  w.StartObject();
  w.Key("hex");
  w.String(hex.data(), static_cast<rapidjson::SizeType>(hex.size()));
  w.EndObject();
}

bool ReadBytes(const rapidjson::Value& j, std::string* out) {
  if (j.IsString()) {
    out->assign(j.GetString(), j.GetStringLength());
    return true;
  }
  if (!j.IsObject() || j.MemberCount() != 1) return false;
  auto it = j.FindMember("hex");
  if (it == j.MemberEnd() || !it->value.IsString()) return false;
  return Unhex(std::string_view(it->value.GetString(), it->value.GetStringLength()), out);
}

// ---------------------------------------------------------------- values

// Shortest text that reads back as the same double; nan, inf, -inf.
std::string FloatText(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), d);
  return std::string(buf, r.ptr);
}

bool ParseFloat(std::string_view s, double* d) {
  if (s == "nan") {
    *d = std::nan("");
    return true;
  }
  if (s == "inf" || s == "-inf") {
    *d = s[0] == '-' ? -HUGE_VAL : HUGE_VAL;
    return true;
  }
  auto r = std::from_chars(s.data(), s.data() + s.size(), *d);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

void Tagged(Writer& w, const char* tag, std::string_view bytes) {
  w.StartObject();
  w.Key(tag);
  WriteBytes(w, bytes);
  w.EndObject();
}

// False for a value with no stored form (never in a store).
bool WriteValue(Writer& w, const Value& v) {
  if (v.IsNil()) {
    w.Null();
  } else if (v.IsBool()) {
    w.Bool(v.AsBool());
  } else if (v.IsInt()) {
    w.Int64(v.AsInt());
  } else if (v.IsFloat()) {
    std::string text = FloatText(v.AsDouble());
    w.StartObject();
    w.Key("float");
    w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
    w.EndObject();
  } else if (v.IsString()) {
    WriteBytes(w, v.AsString());
  } else if (v.IsKeyword()) {
    Tagged(w, "keyword", v.AsString());
  } else if (v.IsSymbol()) {
    Tagged(w, "symbol", v.AsString());
  } else if (v.IsList()) {
    w.StartArray();
    for (const Value& item : v.Items()) {
      if (!WriteValue(w, item)) return false;
    }
    w.EndArray();
  } else if (v.IsDict()) {
    auto entries = v.Entries();
    bool utf8 = true;
    size_t bad;
    for (const auto& [key, value] : entries) utf8 = utf8 && host::ValidUtf8(key, &bad);
    w.StartObject();
    w.Key("dict");
    if (utf8) {
      w.StartObject();
      for (const auto& [key, value] : entries) {
        w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
        if (!WriteValue(w, value)) return false;
      }
      w.EndObject();
    } else {
      w.StartArray();
      for (const auto& [key, value] : entries) {
        w.StartArray();
        WriteBytes(w, key);
        if (!WriteValue(w, value)) return false;
        w.EndArray();
      }
      w.EndArray();
    }
    w.EndObject();
  } else {
    return false;
  }
  return true;
}

bool ReadValue(Interpreter& in, const rapidjson::Value& j, Value* out, std::string* error) {
  if (j.IsNull()) {
    *out = in.Nil();
  } else if (j.IsBool()) {
    *out = in.Bool(j.GetBool());
  } else if (j.IsInt64()) {
    *out = in.Int(j.GetInt64());
  } else if (j.IsNumber()) {
    *error = "a number that is not a 64-bit integer (floats are written {\"float\": \"...\"})";
    return false;
  } else if (j.IsString()) {
    *out = in.String(std::string_view(j.GetString(), j.GetStringLength()));
  } else if (j.IsArray()) {
    std::vector<Value> items;
    items.reserve(j.Size());
    for (const auto& e : j.GetArray()) {
      items.emplace_back();
      if (!ReadValue(in, e, &items.back(), error)) return false;
    }
    *out = in.List(items);
  } else if (j.IsObject() && j.MemberCount() == 1) {
    const auto& m = *j.MemberBegin();
    std::string_view tag(m.name.GetString(), m.name.GetStringLength());
    std::string bytes;
    if (tag == "hex") {
      if (!ReadBytes(j, &bytes)) {
        *error = "a bad {\"hex\": ...} string";
        return false;
      }
      *out = in.String(bytes);
    } else if (tag == "float") {
      double d;
      if (!m.value.IsString() ||
          !ParseFloat(std::string_view(m.value.GetString(), m.value.GetStringLength()), &d)) {
        *error = "a bad {\"float\": ...}";
        return false;
      }
      *out = in.Float(d);
    } else if (tag == "keyword" || tag == "symbol") {
      if (!ReadBytes(m.value, &bytes)) {
        *error = "a bad {\"" + std::string(tag) + "\": ...} name";
        return false;
      }
      *out = tag == "keyword" ? in.Keyword(bytes) : in.Symbol(bytes);
    } else if (tag == "dict") {
      std::vector<std::pair<std::string, Value>> entries;
      if (m.value.IsObject()) {
        for (const auto& e : m.value.GetObject()) {
          entries.emplace_back(std::string(e.name.GetString(), e.name.GetStringLength()), Value());
          if (!ReadValue(in, e.value, &entries.back().second, error)) return false;
        }
      } else if (m.value.IsArray()) {
        for (const auto& pair : m.value.GetArray()) {
          entries.emplace_back();
          if (!pair.IsArray() || pair.Size() != 2 || !ReadBytes(pair[0], &entries.back().first)) {
            *error = "a dict entry that is not [key, value]";
            return false;
          }
          if (!ReadValue(in, pair[1], &entries.back().second, error)) return false;
        }
      } else {
        *error = "a bad {\"dict\": ...}";
        return false;
      }
      *out = in.Dict(entries);
    } else {
      *error = "an object with the unknown tag \"" + std::string(tag) + "\"";
      return false;
    }
  } else {
    *error = "an object that is not a tagged value";
    return false;
  }
  return true;
}

// A stored payload or value, as the members "value" (decoded) or "raw"
// (hex of bytes that are no stored value, kept as they are).
void WriteStored(Interpreter& in, Writer& w, std::string_view bytes) {
  Value v;
  std::string error;
  if (host::DecodeValue(in, bytes, &v, &error)) {
    w.Key("value");
    if (WriteValue(w, v)) return;
  }
  std::string hex = Hex(bytes);
  w.Key("raw");
  w.String(hex.data(), static_cast<rapidjson::SizeType>(hex.size()));
}

class LineWriter {
 public:
  explicit LineWriter(std::ostream& out) : out_(out), w_(buf_) {}
  Writer& w() { return w_; }
  void Start() {
    buf_.Clear();
    w_.Reset(buf_);
    w_.StartObject();
  }
  void Finish() {
    w_.EndObject();
    out_.write(buf_.GetString(), static_cast<std::streamsize>(buf_.GetSize()));
    out_.put('\n');
  }

 private:
  std::ostream& out_;
  rapidjson::StringBuffer buf_;
  Writer w_;
};

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
    store::Options options;
    options.sync = store::SyncMode::kNever;  // one sync at the end
    options.auto_compact = false;
    store::Status s = store::Store::Open(options, dir, &store_);
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
    if (!s.ok()) {
      err_ << "store import: " << ShortStatus(s) << "\n";
      return 1;
    }
    report_->streams = store_->Streams().size();
    return ok ? 0 : 1;
  }

  static std::string Quote(std::string_view s) {
    return "\"" + store::EscapeBytes(s, 64, /*utf8=*/true) + "\"";
  }

 private:
  uint64_t& Last(const std::string& stream) {
    auto it = last_.find(stream);
    if (it == last_.end()) it = last_.emplace(stream, store_->LastSeq(stream)).first;
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
  std::unique_ptr<store::Store> store_;
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

int ExportStore(const std::string& dir, const ExportOptions& options, std::ostream& out,
                std::ostream& err) {
  if (store::LooksLikeRoseAshDir(store::Env::Default(), dir)) {
    err << "store export: " << store::RoseAshHint(dir) << "\n";
    return 1;
  }
  store::Options so;
  so.read_only = true;
  so.create_if_missing = false;
  std::unique_ptr<store::Store> st;
  store::Status s = store::Store::Open(so, dir, &st);
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
  line.w().Int(kFormatVersion);
  line.Finish();

  std::vector<std::string> streams;
  if (options.events) streams = options.streams.empty() ? st->Streams() : options.streams;
  bool kv = options.streams.empty() || options.kv;
  store::Progress progress(err, "export: events", st->GetStats().events_live, options.progress);
  uint64_t done = 0;
  std::vector<store::Event> events;
  for (const std::string& name : streams) {
    uint64_t last = st->LastSeq(name);
    if (last == 0) {
      err << "store export: no stream " << Importer::Quote(name) << "\n";
      return 1;
    }
    line.Start();
    line.w().Key("kind");
    line.w().String("stream");
    line.w().Key("stream");
    WriteBytes(line.w(), name);
    line.w().Key("first_seq");
    line.w().Uint64(st->FirstSeq(name));
    line.w().Key("last_seq");
    line.w().Uint64(last);
    line.Finish();
    uint64_t from = st->FirstSeq(name);
    while (from <= last) {
      events.clear();
      s = st->Read(name, from, 4096, &events);
      if (!s.ok()) {
        err << "store export: stream " << Importer::Quote(name) << ": " << s.ToString() << "\n";
        return 1;
      }
      if (events.empty()) break;
      for (const store::Event& e : events) {
        line.Start();
        line.w().Key("kind");
        line.w().String("event");
        line.w().Key("stream");
        WriteBytes(line.w(), name);
        line.w().Key("seq");
        line.w().Uint64(e.seq);
        WriteStored(in, line.w(), e.payload);
        line.Finish();
      }
      done += events.size();
      progress.Update(done);
      from = events.back().seq + 1;
    }
  }
  if (kv) {
    std::string value;
    for (const std::string& key : st->KvKeys()) {
      s = st->KvGet(key, &value);
      if (!s.ok()) {
        err << "store export: key " << Importer::Quote(key) << ": " << s.ToString() << "\n";
        return 1;
      }
      line.Start();
      line.w().Key("kind");
      line.w().String("kv");
      line.w().Key("key");
      WriteBytes(line.w(), key);
      WriteStored(in, line.w(), value);
      line.Finish();
    }
  }
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
  Value v;
  if (!ReadValue(in, value->value, &v, error)) return false;
  return Encode(in, v, out, error);
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
