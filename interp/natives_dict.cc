// natives_dict.cc — the dict primitives.
//
// Dicts are immutable maps from strings to values (dict.h); a keyword used as
// a key stands for the string of its name, so :seq and "seq" name the same
// entry, and keys come back from `keys` as strings. Every update returns a new
// dict that shares structure with the old one. `keys` and `vals` list entries
// in sorted key order (by bytes), the order the printer uses, so their output
// is deterministic. Where a dict is expected, nil is accepted as the empty
// dict, which lets `(assoc nil :a 1)` and `(get nil :a)` work as in Clojure.
#include <cstdint>
#include <string>

#include "interp/dict.h"
#include "interp/natives_util.h"

namespace sx::interp {
namespace {

// A dict argument where nil means the empty dict.
Value DictArg(const Args& a, int i) { return a[i].IsNil() ? DictEmpty(a.S.heap) : a.Dict(i); }

// The string a key value stands for, or nullptr when it cannot be a key.
String* KeyOf(Value k) {
  if (IsString(k)) return AsString(k);
  if (IsKeyword(k)) return AsKeyword(k)->name;
  return nullptr;
}

Value DictFn(const Args& a) {
  if (a.n % 2 != 0) ThrowError(a.S, "dict: expected keys and values in pairs, got an odd count");
  Value d = DictEmpty(a.S.heap);
  for (int i = 0; i < a.n; i += 2) d = DictAssoc(a.S.heap, d, a.Key(i), a[i + 1]);
  return d;
}

Value Get(const Args& a) {
  Value c = a[0];
  Value fallback = a.n == 3 ? a[2] : Value::Nil();
  if (c.IsNil()) return fallback;
  if (IsDict(c)) {
    Value v = DictGet(c, a.Key(1));
    return v.IsUndefined() ? fallback : v;
  }
  if (IsList(c)) {
    int64_t i = a.Int(1);
    if (i < 0) return fallback;
    Value p = c;
    for (; i > 0 && IsPair(p); --i) p = Cdr(p);
    return IsPair(p) ? Car(p) : fallback;
  }
  a.Fail(0, "a dict or list");
}

// (assoc d k v ...) with `put` doing each update. Every key is checked
// before the first update, so an error leaves even an accumulator updated
// in place as it was.
Value AssocWith(const Args& a, Value (*put)(Heap&, Value, String*, Value)) {
  Value d = DictArg(a, 0);
  if (a.n % 2 == 0) ThrowError(a.S, "assoc: expected keys and values in pairs, got an odd count");
  for (int i = 1; i < a.n; i += 2) a.Key(i);
  for (int i = 1; i < a.n; i += 2) d = put(a.S.heap, d, a.Key(i), a[i + 1]);
  return d;
}

Value Assoc(const Args& a) { return AssocWith(a, &DictAssoc); }

Value Dissoc(const Args& a) {
  Value d = DictArg(a, 0);
  for (int i = 1; i < a.n; ++i) d = DictDissoc(a.S.heap, d, a.Key(i));
  return d;
}

Value Merge(const Args& a) {
  Value out = Value::Nil();
  for (int i = 0; i < a.n; ++i) {
    if (a[i].IsNil()) continue;
    Value d = a.Dict(i);
    if (out.IsNil()) {
      out = d;
      continue;
    }
    DictForEach(d, [&](String* k, Value v) { out = DictAssoc(a.S.heap, out, k, v); });
  }
  return out.IsNil() ? DictEmpty(a.S.heap) : out;
}

Value Keys(const Args& a) {
  ListBuilder out(a.S.heap);
  for (auto& [k, v] : DictEntriesSorted(DictArg(a, 0))) out.Add(Value::Object(k));
  return out.Done();
}

Value Vals(const Args& a) {
  ListBuilder out(a.S.heap);
  for (auto& [k, v] : DictEntriesSorted(DictArg(a, 0))) out.Add(v);
  return out.Done();
}

Value HasKeyP(const Args& a) {
  Value d = DictArg(a, 0);
  return Value::Bool(!DictGet(d, a.Key(1)).IsUndefined());
}

Value DictP(const Args& a) { return Value::Bool(IsDict(a[0])); }

Value SelectKeys(const Args& a) {
  Value d = DictArg(a, 0);
  Value out = DictEmpty(a.S.heap);
  for (Value p = SeqArg(a, 1); IsPair(p); p = Cdr(p)) {
    String* k = KeyOf(Car(p));
    if (k == nullptr) {
      ThrowError(a.S, "select-keys: keys must be strings or keywords, got " + Brief(a.S, Car(p)));
    }
    Value v = DictGet(d, k);
    if (!v.IsUndefined()) out = DictAssoc(a.S.heap, out, k, v);
  }
  return out;
}

constexpr uint16_t P = kNativePure;

const NativeSpec kDictNatives[] = {
    {"dict", 0, -1, DictFn,
     "(dict k v ...)\n\nA dict from alternating keys and values. Keys are strings or keywords "
     "(a keyword means its name): (dict :a 1 \"b\" 2) is {:a 1 :b 2}.",
     P},
    {"get", 2, 3, Get,
     "(get d k)  (get d k default)  (get lst i)\n\nThe value for key k in dict d, or element i "
     "of a list; default (nil) when absent or out of range. nil as the collection gives the "
     "default.",
     P},
    {"assoc", 3, -1, Assoc,
     "(assoc d k v ...)\n\nA dict like d (nil counts as {}) with each k set to its v.", P},
    {"dissoc", 1, -1, Dissoc, "(dissoc d k ...)\n\nA dict like d without the keys k.", P},
    {"merge", 0, -1, Merge,
     "(merge d ...)\n\nOne dict with the entries of all the arguments; later ones win. nil "
     "arguments are skipped; with no dict at all the result is {}.",
     P},
    {"keys", 1, 1, Keys, "(keys d)\n\nThe keys of d as strings, sorted by bytes.", P},
    {"vals", 1, 1, Vals, "(vals d)\n\nThe values of d, in the sorted order of their keys.", P},
    {"has-key?", 2, 2, HasKeyP, "(has-key? d k)\n\nWhether dict d has an entry for key k.", P},
    {"dict?", 1, 1, DictP, "(dict? x)\n\nTrue for a dict.", P},
    {"select-keys", 2, 2, SelectKeys,
     "(select-keys d keys)\n\nA dict with only the entries of d whose key is in the list keys.", P},
    {nullptr, 0, 0, nullptr, nullptr, 0},
};

}  // namespace

const NativeSpec* DictNatives() { return kDictNatives; }

bool IsAssocNative(const Native* nat) { return nat->spec->fn == &Assoc; }

Value AssocIntoAccumulator(const Args& a) { return AssocWith(a, &DictAssocTransient); }

}  // namespace sx::interp
