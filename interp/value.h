// value.h — the one value type of SX and the layout of every heap object.
//
// A Value is 64 bits, NaN-boxed. A double is stored as itself; every other
// value lives in the negative quiet-NaN space (top 13 bits set), with a 3-bit
// tag in bits 48..50 and a 48-bit payload:
//
//   tag 0  immediates: nil, false, true, the empty list, and `undefined`
//          (an internal marker for "no value": unbound slots, absent keys)
//   tag 1  small integer, 48-bit two's complement (|n| < 2^47)
//   tag 2  pointer to a heap object (an Obj)
//
// Integers are 64-bit in the language; those that do not fit 48 bits are
// boxed in a BigInt object, invisibly to SX code. Every NaN is canonicalised
// to the positive quiet NaN so it can never be mistaken for a tagged value.
//
// Heap objects start with an 8-byte Obj header. They are allocated only
// through Heap (heap.h) and collected by its tracing collector; a Value
// holding a pointer keeps the object alive only while the Value is reachable
// from a root (see heap.h for what counts as a root).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace sx::interp {

struct Obj;
struct String;
struct Symbol;
struct Keyword;
struct Pair;
struct Dict;

class Value {
 public:
  constexpr Value() : bits_(kNilBits) {}

  // --- constructors -------------------------------------------------------
  static constexpr Value Nil() { return Value(kNilBits); }
  static constexpr Value False() { return Value(kFalseBits); }
  static constexpr Value True() { return Value(kTrueBits); }
  static constexpr Value Bool(bool b) { return b ? True() : False(); }
  static constexpr Value EmptyList() { return Value(kEmptyBits); }
  static constexpr Value Undefined() { return Value(kUndefBits); }
  static Value Float(double d) {
    if (d != d) return Value(kCanonicalNaN);
    uint64_t b;
    std::memcpy(&b, &d, 8);
    return Value(b);
  }
  // Only for n within the small range; use Heap::MakeInt for any int64.
  static constexpr Value SmallInt(int64_t n) {
    return Value(kTagBase | (uint64_t{1} << 48) | (static_cast<uint64_t>(n) & kPayloadMask));
  }
  static constexpr bool FitsSmall(int64_t n) { return n >= kSmallMin && n <= kSmallMax; }
  static Value Object(const Obj* o) {
    return Value(kTagBase | (uint64_t{2} << 48) | reinterpret_cast<uint64_t>(o));
  }
  static constexpr Value FromBits(uint64_t b) { return Value(b); }

  // --- predicates ---------------------------------------------------------
  constexpr bool IsFloat() const { return (bits_ & kTagBase) != kTagBase; }
  constexpr bool IsSmallInt() const {
    return (bits_ & kTagMask) == (kTagBase | (uint64_t{1} << 48));
  }
  constexpr bool IsObj() const { return (bits_ & kTagMask) == (kTagBase | (uint64_t{2} << 48)); }
  constexpr bool IsNil() const { return bits_ == kNilBits; }
  constexpr bool IsBool() const { return bits_ == kTrueBits || bits_ == kFalseBits; }
  constexpr bool IsTrue() const { return bits_ == kTrueBits; }
  constexpr bool IsFalse() const { return bits_ == kFalseBits; }
  constexpr bool IsEmptyList() const { return bits_ == kEmptyBits; }
  constexpr bool IsUndefined() const { return bits_ == kUndefBits; }
  // Only nil and false are falsy.
  constexpr bool Truthy() const { return bits_ != kNilBits && bits_ != kFalseBits; }

  // --- accessors (caller checks the kind first) ----------------------------
  double AsFloat() const {
    double d;
    std::memcpy(&d, &bits_, 8);
    return d;
  }
  constexpr int64_t AsSmallInt() const {
    // Sign-extend the 48-bit payload.
    return static_cast<int64_t>(bits_ << 16) >> 16;
  }
  Obj* AsObj() const { return reinterpret_cast<Obj*>(bits_ & kPayloadMask); }
  constexpr uint64_t Bits() const { return bits_; }

  constexpr bool operator==(const Value& o) const { return bits_ == o.bits_; }  // identity
  constexpr bool operator!=(const Value& o) const { return bits_ != o.bits_; }

  static constexpr int64_t kSmallMin = -(int64_t{1} << 47);
  static constexpr int64_t kSmallMax = (int64_t{1} << 47) - 1;

 private:
  constexpr explicit Value(uint64_t b) : bits_(b) {}

  static constexpr uint64_t kTagBase = 0xFFF8000000000000ull;
  static constexpr uint64_t kTagMask = 0xFFFF000000000000ull;
  static constexpr uint64_t kPayloadMask = 0x0000FFFFFFFFFFFFull;
  static constexpr uint64_t kCanonicalNaN = 0x7FF8000000000000ull;
  static constexpr uint64_t kNilBits = kTagBase | 0;
  static constexpr uint64_t kFalseBits = kTagBase | 1;
  static constexpr uint64_t kTrueBits = kTagBase | 2;
  static constexpr uint64_t kEmptyBits = kTagBase | 3;
  static constexpr uint64_t kUndefBits = kTagBase | 4;

  uint64_t bits_;
};

static_assert(sizeof(Value) == 8);

// Kinds of heap object. Keep in sync with Heap's tracing (heap.cc) and with
// TypeName (value.cc).
enum class ObjType : uint8_t {
  kFree = 0,  // an unused allocator slot (never seen by SX code)
  kBigInt,    // int64 outside the small range
  kString,
  kSymbol,
  kKeyword,
  kPair,      // a non-empty list cell
  kDict,      // persistent hash map, string keys
  kHamtNode,  // internal node of a Dict
  kClosure,
  kNative,
  kMacro,
  kEnv,
  kError,   // an error value: message, data, trace
  kNode,    // a compiled expression (node.h)
  kProto,   // a compiled lambda (node.h)
  kVec,     // internal growable array of values (sort, list building)
  kHandle,  // opaque host object (no text form)
  kTask,    // a computation with its own continuation stack
  kScope,   // compile-time scope kept for lazy macro expansion
  kStrBuf,  // shared bytes of strings built by appending
};

// Every heap object starts with this header.
struct Obj {
  ObjType type;
  uint8_t marked;
  uint16_t flags;  // per-type bits
  uint32_t aux;    // per-type small field (e.g. cached hash)
};
static_assert(sizeof(Obj) == 8);

struct BigInt : Obj {
  int64_t value;
};

// Immutable byte string (UTF-8 by convention, any bytes allowed). `aux`
// caches the hash (0 = not yet computed). The bytes are `data[0..len)`: inline
// after the header, or inside a shared StrBuf (`buf`) that `str` grows in
// place when this string is the longest view of it, so building a string by
// repeated appends costs linear time. Bytes past `len` belong to others: the
// bytes are not NUL-terminated in general.
struct String : Obj {
  size_t len;
  char* data;
  Obj* buf;  // the StrBuf holding the bytes, or nullptr when inline
  char inline_data[1];
  std::string_view View() const { return std::string_view(data, len); }
};

// A growable byte buffer shared by the strings that view it.
struct StrBuf : Obj {
  size_t used;  // bytes claimed by the longest string viewing this buffer
  size_t cap;
  char bytes[1];
};

// Interned; the global binding lives on the symbol itself.
struct Symbol : Obj {
  String* name;
  Value global;  // Undefined when unbound
};

// Interned.
struct Keyword : Obj {
  String* name;
};

struct Pair : Obj {
  Value car;
  Value cdr;  // another Pair or EmptyList (improper lists are not built)
};

static_assert(sizeof(String) >= sizeof(Obj) + 3 * 8 + 1, "String layout");

// --- inline helpers -------------------------------------------------------

inline bool IsType(Value v, ObjType t) { return v.IsObj() && v.AsObj()->type == t; }
inline bool IsInt(Value v) { return v.IsSmallInt() || IsType(v, ObjType::kBigInt); }
inline bool IsNumber(Value v) { return v.IsFloat() || IsInt(v); }
inline bool IsString(Value v) { return IsType(v, ObjType::kString); }
inline bool IsSymbol(Value v) { return IsType(v, ObjType::kSymbol); }
inline bool IsKeyword(Value v) { return IsType(v, ObjType::kKeyword); }
inline bool IsPair(Value v) { return IsType(v, ObjType::kPair); }
inline bool IsList(Value v) { return v.IsEmptyList() || IsPair(v); }
inline bool IsDict(Value v) { return IsType(v, ObjType::kDict); }
inline bool IsError(Value v) { return IsType(v, ObjType::kError); }
bool IsCallable(Value v);  // closure, native

// Caller has checked IsInt.
inline int64_t AsInt(Value v) {
  return v.IsSmallInt() ? v.AsSmallInt() : static_cast<BigInt*>(v.AsObj())->value;
}
// Caller has checked IsNumber.
inline double AsDouble(Value v) {
  return v.IsFloat() ? v.AsFloat() : static_cast<double>(AsInt(v));
}
inline String* AsString(Value v) { return static_cast<String*>(v.AsObj()); }
inline Symbol* AsSymbol(Value v) { return static_cast<Symbol*>(v.AsObj()); }
inline Keyword* AsKeyword(Value v) { return static_cast<Keyword*>(v.AsObj()); }
inline Pair* AsPair(Value v) { return static_cast<Pair*>(v.AsObj()); }
inline Dict* AsDict(Value v) { return reinterpret_cast<Dict*>(v.AsObj()); }
inline std::string_view StringView(Value v) { return AsString(v)->View(); }

// List walking: `for (Value p = list; IsPair(p); p = Cdr(p))`.
inline Value Car(Value v) { return AsPair(v)->car; }
inline Value Cdr(Value v) { return AsPair(v)->cdr; }

// The name `type-of` returns: "nil", "boolean", "integer", "number",
// "string", "symbol", "keyword", "list", "dict", "fn", "error", ...
const char* TypeName(Value v);

}  // namespace sx::interp
