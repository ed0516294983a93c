// value_codec.cc — the stored value encoding, binary version 1, and the
// text form read for older stores.
//
// Both directions keep an explicit stack of open containers. Encoding asks
// a container for its elements (Items, Entries) when it opens it and keeps
// them in the frame; decoding collects a container's elements in its frame
// and builds the list or dict when the last one arrives.
#include "host/ops/value_codec.h"

#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "host/ops/value_format.h"
#include "host/store/coding.h"

namespace sx::host {

namespace vf = value_format;

namespace {

uint64_t ZigZag(int64_t n) {
  return (static_cast<uint64_t>(n) << 1) ^ static_cast<uint64_t>(n >> 63);
}

int64_t UnZigZag(uint64_t z) { return static_cast<int64_t>(z >> 1) ^ -static_cast<int64_t>(z & 1); }

void PutBytes(std::string* out, uint8_t tag, std::string_view bytes) {
  out->push_back(static_cast<char>(tag));
  store::PutVarint64(out, bytes.size());
  out->append(bytes);
}

// --- encoding -------------------------------------------------------------------

class Encoder {
 public:
  // max_depth: the most lists and dicts open at once. A value nested deeper
  // is refused, as Serialize refuses it: whatever a write accepts, every
  // backend and every tool that reads text must be able to give back.
  Encoder(std::string* out, size_t max_depth) : out_(out), max_depth_(max_depth) {}

  // False when v holds a value with no stored form.
  bool Encode(const Value& v) {
    if (!Open(v)) return false;
    while (!stack_.empty()) {
      Frame& f = stack_.back();
      if (f.next == f.size()) {
        stack_.pop_back();
        continue;
      }
      size_t i = f.next++;
      if (f.is_dict) {
        const auto& [key, value] = f.entries[i];
        store::PutVarint64(out_, key.size());
        out_->append(key);
        if (!Open(value)) return false;
      } else if (!Open(f.items[i])) {
        return false;
      }
    }
    return true;
  }

 private:
  struct Frame {
    bool is_dict = false;
    std::vector<Value> items;
    std::vector<std::pair<std::string, Value>> entries;  // sorted by key
    size_t next = 0;
    size_t size() const { return is_dict ? entries.size() : items.size(); }
  };

  void Tag(uint8_t t) { out_->push_back(static_cast<char>(t)); }

  // Writes an atom, or a container's header and pushes its frame.
  bool Open(const Value& v) {
    if (v.IsNil()) {
      Tag(vf::kNil);
    } else if (v.IsBool()) {
      Tag(v.AsBool() ? vf::kTrue : vf::kFalse);
    } else if (v.IsInt()) {
      Tag(vf::kInt);
      store::PutVarint64(out_, ZigZag(v.AsInt()));
    } else if (v.IsFloat()) {
      double d = v.AsDouble();
      uint64_t bits = 0x7ff8000000000000ull;  // every NaN as one
      if (!std::isnan(d)) std::memcpy(&bits, &d, 8);
      Tag(vf::kFloat);
      store::PutFixed64(out_, bits);
    } else if (v.IsString()) {
      PutBytes(out_, vf::kString, v.View());
    } else if (v.IsSymbol()) {
      PutBytes(out_, vf::kSymbol, v.View());
    } else if (v.IsKeyword()) {
      PutBytes(out_, vf::kKeyword, v.View());
    } else if (v.IsList()) {
      Frame f;
      f.items = v.Items();
      if (f.items.empty()) {
        Tag(vf::kEmptyList);
        return true;
      }
      if (stack_.size() >= max_depth_) return false;
      Tag(vf::kList);
      store::PutVarint64(out_, f.items.size());
      stack_.push_back(std::move(f));
    } else if (v.IsDict()) {
      if (stack_.size() >= max_depth_) return false;
      Frame f;
      f.is_dict = true;
      f.entries = v.Entries();
      Tag(vf::kDict);
      store::PutVarint64(out_, f.entries.size());
      stack_.push_back(std::move(f));
    } else {
      return false;  // a function, an error, a task...
    }
    return true;
  }

  std::string* out_;
  size_t max_depth_;
  std::vector<Frame> stack_;
};

// --- decoding -------------------------------------------------------------------

// Reads binary version 1 into a ValueBuilder: each atom is pushed as it is
// read, and a container is built once its last element is.
class Decoder {
 public:
  Decoder(ValueBuilder& b, std::string_view bytes) : b_(b), rest_(bytes) {}

  bool Decode(std::string* error) {
    do {
      if (!Part()) return Fail(error);
      // Close every container the part completed.
      while (!stack_.empty() && stack_.back().left == 0) {
        const Frame& f = stack_.back();
        if (f.is_dict) {
          b_.Dict(f.count);
        } else {
          b_.List(f.count);
        }
        stack_.pop_back();
        if (!stack_.empty()) --stack_.back().left;
      }
      if (!stack_.empty() && stack_.back().is_dict && !Key()) return Fail(error);
    } while (!stack_.empty());
    if (!rest_.empty()) {
      why_ = std::to_string(rest_.size()) + " bytes after the value";
      return Fail(error);
    }
    return true;
  }

 private:
  struct Frame {
    bool is_dict;
    uint64_t count;  // elements (entries) in all
    uint64_t left;   // still to come
  };

  bool Fail(std::string* error) {
    if (error != nullptr) *error = "bad binary value: " + (why_.empty() ? "truncated" : why_);
    return false;
  }

  bool Bytes(std::string_view* s) { return store::GetLengthPrefixed(&rest_, s); }

  bool Key() {
    std::string_view k;
    if (!Bytes(&k)) return false;
    b_.Key(k);
    return true;
  }

  // One element counted against the open container.
  void Done() {
    if (!stack_.empty()) --stack_.back().left;
  }

  // Reads one tag: pushes an atom, or opens a container (pushing a frame,
  // or the value itself when it is empty). False on damage.
  bool Part() {
    if (rest_.empty()) return false;
    auto tag = static_cast<uint8_t>(rest_[0]);
    rest_.remove_prefix(1);
    std::string_view s;
    uint64_t n = 0;
    switch (tag) {
      case vf::kNil:
        b_.Nil();
        break;
      case vf::kFalse:
      case vf::kTrue:
        b_.Bool(tag == vf::kTrue);
        break;
      case vf::kEmptyList:
        b_.List(0);
        break;
      case vf::kInt:
        if (!store::GetVarint64(&rest_, &n)) return false;
        b_.Int(UnZigZag(n));
        break;
      case vf::kFloat: {
        if (rest_.size() < 8) return false;
        uint64_t bits = store::DecodeFixed64(rest_.data());
        rest_.remove_prefix(8);
        double d;
        std::memcpy(&d, &bits, 8);
        b_.Float(d);
        break;
      }
      case vf::kString:
        if (!Bytes(&s)) return false;
        b_.String(s);
        break;
      case vf::kSymbol:
        if (!Bytes(&s)) return false;
        b_.Symbol(s);
        break;
      case vf::kKeyword:
        if (!Bytes(&s)) return false;
        b_.Keyword(s);
        break;
      case vf::kList:
      case vf::kDict: {
        // Every element takes a byte at least: a count above what is left is damage.
        if (!store::GetVarint64(&rest_, &n)) return false;
        if (n > rest_.size()) {
          why_ = "a count of " + std::to_string(n) + " with " + std::to_string(rest_.size()) +
                 " bytes left";
          return false;
        }
        bool is_dict = tag == vf::kDict;
        if (n == 0) {
          if (!is_dict) {
            why_ = "a list of 0 elements";
            return false;
          }
          b_.Dict(0);
          break;
        }
        stack_.push_back(Frame{is_dict, n, n});
        return true;  // its elements are counted, not it
      }
      default:
        why_ = "unknown tag " + std::to_string(tag);
        return false;
    }
    Done();
    return true;
  }

  ValueBuilder& b_;
  std::string_view rest_;
  std::vector<Frame> stack_;
  std::string why_;
};

}  // namespace

bool EncodeValue(Interpreter& in, const Value& v, std::string* out, std::string* error) {
  size_t mark = out->size();
  // An event of a few hundred bytes is written without growing the string
  // again and again.
  out->reserve(mark + 256);
  out->push_back(static_cast<char>(vf::kBinaryV1));
  if (Encoder(out, in.GetLimits().max_read_depth).Encode(v)) return true;
  out->resize(mark);
  // The printer names the value it refuses and where it sits; ask it.
  std::string text;
  if (in.Serialize(v, &text, error)) *error = "cannot serialize " + v.TypeName();
  return false;
}

bool DecodeInto(Interpreter& in, ValueBuilder& b, std::string_view bytes, std::string* error) {
  if (bytes.empty() || static_cast<uint8_t>(bytes[0]) >= vf::kFirstTextByte) {
    Value v;
    if (!in.Deserialize(bytes, &v, error)) return false;
    b.Push(v);
    return true;
  }
  if (static_cast<uint8_t>(bytes[0]) != vf::kBinaryV1) {
    *error = "unknown value encoding version " + std::to_string(static_cast<uint8_t>(bytes[0]));
    return false;
  }
  size_t mark = b.size();
  if (Decoder(b, bytes.substr(1)).Decode(error)) return true;
  while (b.size() > mark) b.Take();
  return false;
}

bool DecodeValue(Interpreter& in, std::string_view bytes, Value* out, std::string* error) {
  ValueBuilder b(in);
  if (!DecodeInto(in, b, bytes, error)) return false;
  *out = b.Take();
  return true;
}

bool StoredValueIs(Interpreter& in, std::string_view stored, std::string_view encoded) {
  if (stored == encoded) return true;
  if (!stored.empty() && static_cast<uint8_t>(stored[0]) == vf::kBinaryV1) return false;
  // The text form of an older store: compare what it holds.
  Value v;
  std::string error, again;
  return DecodeValue(in, stored, &v, &error) && EncodeValue(in, v, &again, &error) &&
         again == encoded;
}

}  // namespace sx::host
