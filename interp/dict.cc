// dict.cc — the persistent HAMT behind SX dicts.
//
// A trie of 32-way nodes indexed by 5-bit slices of a 32-bit key hash. Each
// node is one heap object with no malloc'd memory inside, so the collector
// needs a tracer but no finalizer. A node holds `n` slots of two Values:
//
//   bitmap node    (flags == kBitmapNode): `aux` is the bitmap of occupied
//                  slices; a slot is an entry (key String, value) or a child
//                  (node, Undefined), told apart by the second Value: no
//                  entry holds Undefined (SX code cannot make it), so a
//                  lookup never has to touch a key to learn which it is.
//   collision node (flags == kCollisionNode): every key has the same full
//                  hash (`aux`); all slots are entries, searched linearly.
//
// Updates copy only the nodes on the path from the root to the changed slot
// (at most 8 levels), so old versions stay valid and `assoc` on a large dict
// allocates a few hundred bytes. Removal keeps the trie compact: a subtree
// left with a single entry is folded into its parent. The recursion in these
// helpers is bounded by the trie height, never by the data.
#include "interp/dict.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace sx::interp {

namespace {

constexpr uint16_t kBitmapNode = 0;
constexpr uint16_t kCollisionNode = 1;
constexpr int kBits = 5;
constexpr int kMaxShift = 30;  // the last slice (bits 30..31) is 2 bits wide

struct Node : Obj {
  uint64_t n;  // slots in use
  Value* slots() { return reinterpret_cast<Value*>(this + 1); }
  Value& key(size_t i) { return slots()[2 * i]; }
  Value& val(size_t i) { return slots()[2 * i + 1]; }
  bool IsChild(size_t i) { return slots()[2 * i + 1].IsUndefined(); }
  Node* child(size_t i) { return static_cast<Node*>(slots()[2 * i].AsObj()); }
};

uint32_t (*g_test_hash)(std::string_view) = nullptr;

// Every caller fills all `n` slots before the next safe point.
Node* NewNode(Heap& heap, uint16_t kind, uint32_t aux, size_t n) {
  auto* node = static_cast<Node*>(
      heap.AllocateRaw(ObjType::kHamtNode, sizeof(Node) + 2 * sizeof(Value) * n));
  node->flags = kind;
  node->aux = aux;
  node->n = n;
  return node;
}

Node* CopyNode(Heap& heap, Node* src) {
  Node* node = NewNode(heap, src->flags, src->aux, src->n);
  std::memcpy(node->slots(), src->slots(), 2 * sizeof(Value) * src->n);
  return node;
}

// A copy of `src` with a slot inserted at `at`.
Node* InsertSlot(Heap& heap, Node* src, uint32_t aux, size_t at, Value k, Value v) {
  Node* node = NewNode(heap, src->flags, aux, src->n + 1);
  std::memcpy(node->slots(), src->slots(), 2 * sizeof(Value) * at);
  node->key(at) = k;
  node->val(at) = v;
  std::memcpy(node->slots() + 2 * (at + 1), src->slots() + 2 * at,
              2 * sizeof(Value) * (src->n - at));
  return node;
}

// A copy of `src` with slot `at` removed.
Node* RemoveSlot(Heap& heap, Node* src, uint32_t aux, size_t at) {
  Node* node = NewNode(heap, src->flags, aux, src->n - 1);
  std::memcpy(node->slots(), src->slots(), 2 * sizeof(Value) * at);
  std::memcpy(node->slots() + 2 * at, src->slots() + 2 * (at + 1),
              2 * sizeof(Value) * (src->n - at - 1));
  return node;
}

uint32_t Fragment(uint32_t hash, int shift) { return (hash >> shift) & 31u; }
// Bits set in x. std::popcount is a library call unless the build targets
// CPUs with POPCNT; this is a dozen inline instructions on any x86-64.
inline uint32_t PopCount32(uint32_t x) {
  x = x - ((x >> 1) & 0x55555555u);
  x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
  x = (x + (x >> 4)) & 0x0f0f0f0fu;
  return (x * 0x01010101u) >> 24;
}

size_t SlotIndex(uint32_t bitmap, uint32_t bit) { return PopCount32(bitmap & (bit - 1)); }

// The same String object (the common case of a key looked up with the very
// string it was stored under) compares equal without reading its bytes.
bool KeyIs(Value k, std::string_view name) {
  std::string_view have = AsString(k)->View();
  return (have.data() == name.data() && have.size() == name.size()) || have == name;
}

uint32_t HashBytes(std::string_view s) {
  if (g_test_hash != nullptr) return g_test_hash(s);
  // 64-bit multiply-xorshift over 8-byte words, folded to 32 bits.
  constexpr uint64_t kMul = 0xbf58476d1ce4e5b9ull;
  uint64_t h = 0x9e3779b97f4a7c15ull ^ (s.size() * 0x94d049bb133111ebull);
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * kMul;
    h ^= h >> 31;
  }
  if (i < s.size()) {
    uint64_t w = 0;
    std::memcpy(&w, s.data() + i, s.size() - i);
    h = (h ^ w) * kMul;
    h ^= h >> 31;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  auto r = static_cast<uint32_t>(h ^ (h >> 32));
  return r == 0 ? 1 : r;
}

// A node holding two entries whose paths agree down to `shift`.
Node* MakeTwo(Heap& heap, int shift, Value k1, Value v1, uint32_t h1, Value k2, Value v2,
              uint32_t h2) {
  if (shift > kMaxShift) {
    Node* node = NewNode(heap, kCollisionNode, h1, 2);
    node->key(0) = k1;
    node->val(0) = v1;
    node->key(1) = k2;
    node->val(1) = v2;
    return node;
  }
  uint32_t f1 = Fragment(h1, shift), f2 = Fragment(h2, shift);
  if (f1 == f2) {
    Node* node = NewNode(heap, kBitmapNode, 1u << f1, 1);
    node->key(0) = Value::Object(MakeTwo(heap, shift + kBits, k1, v1, h1, k2, v2, h2));
    node->val(0) = Value::Undefined();
    return node;
  }
  Node* node = NewNode(heap, kBitmapNode, (1u << f1) | (1u << f2), 2);
  size_t a = f1 < f2 ? 0 : 1;
  node->key(a) = k1;
  node->val(a) = v1;
  node->key(1 - a) = k2;
  node->val(1 - a) = v2;
  return node;
}

Node* Assoc(Heap& heap, Node* node, int shift, uint32_t hash, String* key, Value val,
            bool* added) {
  Value k = Value::Object(key);
  if (node->flags == kCollisionNode) {
    for (size_t i = 0; i < node->n; ++i) {
      if (KeyIs(node->key(i), key->View())) {
        if (node->val(i) == val) return node;
        Node* copy = CopyNode(heap, node);
        copy->val(i) = val;
        return copy;
      }
    }
    *added = true;
    return InsertSlot(heap, node, node->aux, node->n, k, val);
  }
  uint32_t bit = 1u << Fragment(hash, shift);
  size_t i = SlotIndex(node->aux, bit);
  if ((node->aux & bit) == 0) {
    *added = true;
    return InsertSlot(heap, node, node->aux | bit, i, k, val);
  }
  if (node->IsChild(i)) {
    Node* child = node->child(i);
    Node* updated = Assoc(heap, child, shift + kBits, hash, key, val, added);
    if (updated == child) return node;
    Node* copy = CopyNode(heap, node);
    copy->key(i) = Value::Object(updated);
    return copy;
  }
  if (KeyIs(node->key(i), key->View())) {
    if (node->val(i) == val) return node;
    Node* copy = CopyNode(heap, node);
    copy->val(i) = val;
    return copy;
  }
  *added = true;
  Value old_key = node->key(i);
  Node* sub = MakeTwo(heap, shift + kBits, old_key, node->val(i), HashString(AsString(old_key)),
                      k, val, hash);
  Node* copy = CopyNode(heap, node);
  copy->key(i) = Value::Object(sub);
  copy->val(i) = Value::Undefined();
  return copy;
}

// What removing a key did to a subtree.
struct Removal {
  enum Kind { kNotFound, kEmpty, kNode, kSingle } kind = kNotFound;
  Node* node = nullptr;  // kNode
  Value key, val;        // kSingle: the subtree's one remaining entry
};

// After removing slot `i` from a bitmap node, what the node becomes.
Removal WithoutSlot(Heap& heap, Node* node, int shift, uint32_t bit, size_t i) {
  Removal r;
  if (node->n == 1) {
    r.kind = Removal::kEmpty;
    return r;
  }
  if (node->n == 2 && shift > 0 && !node->IsChild(1 - i)) {
    r.kind = Removal::kSingle;
    r.key = node->key(1 - i);
    r.val = node->val(1 - i);
    return r;
  }
  r.kind = Removal::kNode;
  r.node = RemoveSlot(heap, node, node->aux & ~bit, i);
  return r;
}

Removal Remove(Heap& heap, Node* node, int shift, uint32_t hash, std::string_view key) {
  Removal r;
  if (node->flags == kCollisionNode) {
    for (size_t i = 0; i < node->n; ++i) {
      if (!KeyIs(node->key(i), key)) continue;
      if (node->n == 2) {
        r.kind = Removal::kSingle;
        r.key = node->key(1 - i);
        r.val = node->val(1 - i);
      } else {
        r.kind = Removal::kNode;
        r.node = RemoveSlot(heap, node, node->aux, i);
      }
      return r;
    }
    return r;
  }
  uint32_t bit = 1u << Fragment(hash, shift);
  if ((node->aux & bit) == 0) return r;
  size_t i = SlotIndex(node->aux, bit);
  if (!node->IsChild(i)) {
    if (!KeyIs(node->key(i), key)) return r;
    return WithoutSlot(heap, node, shift, bit, i);
  }
  Removal sub = Remove(heap, node->child(i), shift + kBits, hash, key);
  switch (sub.kind) {
    case Removal::kNotFound:
      return sub;
    case Removal::kEmpty:
      return WithoutSlot(heap, node, shift, bit, i);
    case Removal::kSingle:
      if (node->n == 1 && shift > 0) return sub;  // keep folding upward
      r.kind = Removal::kNode;
      r.node = CopyNode(heap, node);
      r.node->key(i) = sub.key;
      r.node->val(i) = sub.val;
      return r;
    case Removal::kNode:
      r.kind = Removal::kNode;
      r.node = CopyNode(heap, node);
      r.node->key(i) = Value::Object(sub.node);
      return r;
  }
  return r;
}

Value Find(Value dict, std::string_view key, uint32_t hash) {
  auto* node = static_cast<Node*>(AsDict(dict)->root);
  int shift = 0;
  while (node != nullptr) {
    if (node->flags == kCollisionNode) {
      for (size_t i = 0; i < node->n; ++i) {
        if (KeyIs(node->key(i), key)) return node->val(i);
      }
      return Value::Undefined();
    }
    uint32_t bit = 1u << Fragment(hash, shift);
    if ((node->aux & bit) == 0) return Value::Undefined();
    size_t i = SlotIndex(node->aux, bit);
    if (!node->IsChild(i)) return KeyIs(node->key(i), key) ? node->val(i) : Value::Undefined();
    node = node->child(i);
    shift += kBits;
  }
  return Value::Undefined();
}

void ForEachIn(Node* node, const std::function<void(String*, Value)>& fn) {
  for (size_t i = 0; i < node->n; ++i) {
    if (node->flags == kBitmapNode && node->IsChild(i)) {
      ForEachIn(node->child(i), fn);
    } else {
      fn(AsString(node->key(i)), node->val(i));
    }
  }
}

Value MakeDict(Heap& heap, Node* root, size_t count) {
  auto* d = static_cast<Dict*>(heap.Allocate(ObjType::kDict, sizeof(Dict)));
  d->count = count;
  d->root = root;
  return Value::Object(d);
}

void TraceNode(Heap& heap, Obj* o) {
  auto* node = static_cast<Node*>(o);
  for (size_t i = 0; i < 2 * node->n; ++i) heap.Mark(node->slots()[i]);
}

void TraceDict(Heap& heap, Obj* o) { heap.MarkObj(static_cast<Dict*>(o)->root); }

}  // namespace

void SetDictHashForTesting(uint32_t (*hash)(std::string_view)) { g_test_hash = hash; }

uint32_t HashString(String* s) {
  if (g_test_hash != nullptr) return HashBytes(s->View());
  if (s->aux == 0) s->aux = HashBytes(s->View());
  return s->aux;
}

void RegisterDictTypes(Heap& heap) {
  heap.SetTracer(ObjType::kHamtNode, TraceNode);
  heap.SetTracer(ObjType::kDict, TraceDict);
}

Value DictEmpty(Heap& heap) { return MakeDict(heap, nullptr, 0); }

Value DictAssoc(Heap& heap, Value dict, String* key, Value val) {
  assert(!val.IsUndefined() && "Undefined marks a child slot");
  Dict* d = AsDict(dict);
  uint32_t hash = HashString(key);
  if (d->root == nullptr) {
    Node* node = NewNode(heap, kBitmapNode, 1u << Fragment(hash, 0), 1);
    node->key(0) = Value::Object(key);
    node->val(0) = val;
    return MakeDict(heap, node, 1);
  }
  bool added = false;
  auto* root = static_cast<Node*>(d->root);
  Node* updated = Assoc(heap, root, 0, hash, key, val, &added);
  if (updated == root) return dict;
  return MakeDict(heap, updated, d->count + (added ? 1 : 0));
}

Value DictDissoc(Heap& heap, Value dict, String* key) {
  Dict* d = AsDict(dict);
  if (d->root == nullptr) return dict;
  Removal r = Remove(heap, static_cast<Node*>(d->root), 0, HashString(key), key->View());
  switch (r.kind) {
    case Removal::kNotFound:
      return dict;
    case Removal::kEmpty:
      return MakeDict(heap, nullptr, 0);
    case Removal::kNode:
      return MakeDict(heap, r.node, d->count - 1);
    case Removal::kSingle:
      break;  // only nodes below the root fold; the root never reports kSingle
  }
  return dict;
}

Value DictGet(Value dict, String* key) { return Find(dict, key->View(), HashString(key)); }

Value DictGetView(Heap&, Value dict, std::string_view key) {
  return Find(dict, key, HashBytes(key));
}

size_t DictCount(Value dict) { return AsDict(dict)->count; }

void DictForEach(Value dict, const std::function<void(String* key, Value val)>& fn) {
  auto* root = static_cast<Node*>(AsDict(dict)->root);
  if (root != nullptr) ForEachIn(root, fn);
}

std::vector<std::pair<String*, Value>> DictEntriesSorted(Value dict) {
  std::vector<std::pair<String*, Value>> entries;
  entries.reserve(DictCount(dict));
  DictForEach(dict, [&](String* k, Value v) { entries.emplace_back(k, v); });
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first->View() < b.first->View(); });
  return entries;
}

}  // namespace sx::interp
