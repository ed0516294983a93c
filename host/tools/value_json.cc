// value_json.cc — binary value encoding <-> the export format's JSON form.
#include "host/tools/value_json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "host/ops/utf8_check.h"
#include "host/ops/value_format.h"
#include "host/store/coding.h"

namespace sx::tools {

namespace vf = host::value_format;

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

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// UTF-8: short ASCII (most names and keys) answered inline.
bool Utf8(std::string_view s) {
  if (s.size() <= 32) {
    unsigned char any = 0;
    for (char c : s) any |= static_cast<unsigned char>(c);
    if (any < 0x80) return true;
  }
  size_t bad;
  return host::ValidUtf8(s, &bad);
}

}  // namespace

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

void WriteBytes(JsonOut& w, std::string_view s) {
  if (Utf8(s)) {
    w.String(s);
    return;
  }
  std::string hex = Hex(s);
  w.StartObject();
  w.Key("hex");
  w.String(hex);
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

namespace {

uint64_t ZigZag(int64_t n) {
  return (static_cast<uint64_t>(n) << 1) ^ static_cast<uint64_t>(n >> 63);
}

int64_t UnZigZag(uint64_t z) { return static_cast<int64_t>(z >> 1) ^ -static_cast<int64_t>(z & 1); }

// Shortest text that reads back as the same double; nan, inf, -inf.
// Writes into buf (32 bytes at least); returns the length.
size_t FloatText(double d, char* buf) {
  const char* special = std::isnan(d) ? "nan" : std::isinf(d) ? (d > 0 ? "inf" : "-inf") : nullptr;
  if (special != nullptr) {
    size_t n = std::strlen(special);
    std::memcpy(buf, special, n);
    return n;
  }
  return static_cast<size_t>(std::to_chars(buf, buf + 32, d).ptr - buf);
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

void Tagged(JsonOut* w, const char* tag, std::string_view bytes) {
  w->StartObject();
  w->Key(tag);
  WriteBytes(*w, bytes);
  w->EndObject();
}

// Two passes over one value: the first (w null) checks the bytes and notes,
// per dict in the order met, whether every key is UTF-8 (the object form)
// or not (the pair-list form); the second writes, taking those notes in the
// same order. Both recurse once per level of nesting.
class Transcoder {
 public:
  bool Check(std::string_view body) {
    utf8_keys_.clear();
    return Walk(&body, nullptr) && body.empty();
  }
  void Write(std::string_view body, JsonOut& w) {
    next_ = 0;
    Walk(&body, &w);
  }
  // One pass, taking every dict's keys for UTF-8: false on damage or on a
  // key that is not, leaving w part-written.
  bool WriteOptimistic(std::string_view body, JsonOut& w) {
    optimistic_ = true;
    bool ok = Walk(&body, &w) && body.empty();
    optimistic_ = false;
    return ok;
  }

 private:
  bool Walk(std::string_view* rest, JsonOut* w) {
    if (rest->empty()) return false;
    auto tag = static_cast<uint8_t>((*rest)[0]);
    rest->remove_prefix(1);
    std::string_view s;
    uint64_t n = 0;
    switch (tag) {
      case vf::kNil:
        if (w) w->Null();
        return true;
      case vf::kFalse:
      case vf::kTrue:
        if (w) w->Bool(tag == vf::kTrue);
        return true;
      case vf::kEmptyList:
        if (w) {
          w->StartArray();
          w->EndArray();
        }
        return true;
      case vf::kInt:
        if (!store::GetVarint64(rest, &n)) return false;
        if (w) w->Int64(UnZigZag(n));
        return true;
      case vf::kFloat: {
        if (rest->size() < 8) return false;
        uint64_t bits = store::DecodeFixed64(rest->data());
        rest->remove_prefix(8);
        if (w) {
          double d;
          std::memcpy(&d, &bits, 8);
          char text[32];
          size_t len = FloatText(d, text);
          w->StartObject();
          w->Key("float");
          w->String(std::string_view(text, len));
          w->EndObject();
        }
        return true;
      }
      case vf::kString:
        if (!store::GetLengthPrefixed(rest, &s)) return false;
        if (w) WriteBytes(*w, s);
        return true;
      case vf::kSymbol:
      case vf::kKeyword:
        if (!store::GetLengthPrefixed(rest, &s)) return false;
        if (w) Tagged(w, tag == vf::kSymbol ? "symbol" : "keyword", s);
        return true;
      case vf::kList:
        if (!store::GetVarint64(rest, &n) || n == 0 || n > rest->size()) return false;
        if (w) w->StartArray();
        for (uint64_t i = 0; i < n; ++i) {
          if (!Walk(rest, w)) return false;
        }
        if (w) w->EndArray();
        return true;
      case vf::kDict: {
        if (!store::GetVarint64(rest, &n) || n > rest->size()) return false;
        size_t note = 0;
        bool utf8 = true;
        if (w) {
          utf8 = optimistic_ || utf8_keys_[next_++];
          w->StartObject();
          w->Key("dict");
          if (utf8) {
            w->StartObject();
          } else {
            w->StartArray();
          }
        } else {
          note = utf8_keys_.size();
          utf8_keys_.push_back(true);
        }
        for (uint64_t i = 0; i < n; ++i) {
          if (!store::GetLengthPrefixed(rest, &s)) return false;
          if (!w) {
            if (utf8_keys_[note] && !Utf8(s)) utf8_keys_[note] = false;
          } else if (optimistic_ && !Utf8(s)) {
            return false;
          } else if (utf8) {
            w->Key(s);
          } else {
            w->StartArray();
            WriteBytes(*w, s);
          }
          if (!Walk(rest, w)) return false;
          if (w && !utf8) w->EndArray();
        }
        if (w) {
          if (utf8) {
            w->EndObject();
          } else {
            w->EndArray();
          }
          w->EndObject();
        }
        return true;
      }
      default:
        return false;
    }
  }

  std::vector<bool> utf8_keys_;
  size_t next_ = 0;
  bool optimistic_ = false;
};

void PutBytes(std::string* out, uint8_t tag, std::string_view bytes) {
  out->push_back(static_cast<char>(tag));
  store::PutVarint64(out, bytes.size());
  out->append(bytes);
}

class Encoder {
 public:
  Encoder(size_t max_depth, std::string* out, std::string* error)
      : max_depth_(max_depth), out_(out), error_(error) {}

  bool Encode(const rapidjson::Value& j, size_t depth) {
    if (j.IsNull()) {
      out_->push_back(static_cast<char>(vf::kNil));
    } else if (j.IsBool()) {
      out_->push_back(static_cast<char>(j.GetBool() ? vf::kTrue : vf::kFalse));
    } else if (j.IsInt64()) {
      out_->push_back(static_cast<char>(vf::kInt));
      store::PutVarint64(out_, ZigZag(j.GetInt64()));
    } else if (j.IsNumber()) {
      return Fail(
          "a number that is not a 64-bit integer (floats are written {\"float\": \"...\"})");
    } else if (j.IsString()) {
      PutBytes(out_, vf::kString, std::string_view(j.GetString(), j.GetStringLength()));
    } else if (j.IsArray()) {
      if (j.Empty()) {
        out_->push_back(static_cast<char>(vf::kEmptyList));
        return true;
      }
      if (depth >= max_depth_) return Deep();
      out_->push_back(static_cast<char>(vf::kList));
      store::PutVarint64(out_, j.Size());
      for (const auto& e : j.GetArray()) {
        if (!Encode(e, depth + 1)) return false;
      }
    } else if (j.IsObject() && j.MemberCount() == 1) {
      const auto& m = *j.MemberBegin();
      std::string_view tag(m.name.GetString(), m.name.GetStringLength());
      std::string bytes;
      if (tag == "hex") {
        if (!ReadBytes(j, &bytes)) return Fail("a bad {\"hex\": ...} string");
        PutBytes(out_, vf::kString, bytes);
      } else if (tag == "float") {
        double d;
        if (!m.value.IsString() ||
            !ParseFloat(std::string_view(m.value.GetString(), m.value.GetStringLength()), &d)) {
          return Fail("a bad {\"float\": ...}");
        }
        uint64_t bits = 0x7ff8000000000000ull;  // every NaN as one, as the codec writes it
        if (!std::isnan(d)) std::memcpy(&bits, &d, 8);
        out_->push_back(static_cast<char>(vf::kFloat));
        store::PutFixed64(out_, bits);
      } else if (tag == "keyword" || tag == "symbol") {
        if (!ReadBytes(m.value, &bytes)) {
          return Fail("a bad {\"" + std::string(tag) + "\": ...} name");
        }
        PutBytes(out_, tag == "keyword" ? vf::kKeyword : vf::kSymbol, bytes);
      } else if (tag == "dict") {
        return Dict(m.value, depth);
      } else {
        return Fail("an object with the unknown tag \"" + std::string(tag) + "\"");
      }
    } else {
      return Fail("an object that is not a tagged value");
    }
    return true;
  }

 private:
  bool Dict(const rapidjson::Value& d, size_t depth) {
    if (depth >= max_depth_) return Deep();
    std::vector<std::pair<std::string, const rapidjson::Value*>> entries;
    if (d.IsObject()) {
      for (const auto& e : d.GetObject()) {
        entries.emplace_back(std::string(e.name.GetString(), e.name.GetStringLength()), &e.value);
      }
    } else if (d.IsArray()) {
      for (const auto& pair : d.GetArray()) {
        entries.emplace_back();
        if (!pair.IsArray() || pair.Size() != 2 || !ReadBytes(pair[0], &entries.back().first)) {
          return Fail("a dict entry that is not [key, value]");
        }
        entries.back().second = &pair[1];
      }
    } else {
      return Fail("a bad {\"dict\": ...}");
    }
    std::sort(entries.begin(), entries.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (size_t i = 1; i < entries.size(); ++i) {
      if (entries[i].first == entries[i - 1].first) return Fail("a dict with a key twice");
    }
    out_->push_back(static_cast<char>(vf::kDict));
    store::PutVarint64(out_, entries.size());
    for (const auto& [key, value] : entries) {
      store::PutVarint64(out_, key.size());
      out_->append(key);
      if (!Encode(*value, depth + 1)) return false;
    }
    return true;
  }

  bool Fail(const std::string& why) {
    *error_ = why;
    return false;
  }
  bool Deep() { return Fail("nested deeper than " + std::to_string(max_depth_)); }

  size_t max_depth_;
  std::string* out_;
  std::string* error_;
};

}  // namespace

bool BinaryToJsonFast(std::string_view body, JsonOut& w, const char* key) {
  thread_local Transcoder t;
  if (key != nullptr) w.Key(key);
  return t.WriteOptimistic(body, w);
}

bool BinaryToJson(std::string_view body, JsonOut& w, const char* key) {
  thread_local Transcoder t;
  if (!t.Check(body)) return false;
  if (key != nullptr) w.Key(key);
  t.Write(body, w);
  return true;
}

bool JsonToBinary(const rapidjson::Value& j, size_t max_depth, std::string* out,
                  std::string* error) {
  size_t mark = out->size();
  out->push_back(static_cast<char>(vf::kBinaryV1));
  if (Encoder(max_depth, out, error).Encode(j, 0)) return true;
  out->resize(mark);
  return false;
}

}  // namespace sx::tools
