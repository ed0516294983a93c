// dict.cc — the persistent HAMT behind SX dicts.
//
// A trie of 32-way nodes indexed by 5-bit slices of a 32-bit key hash, laid
// out as in CHAMP (Steindorfer and Vinju): each node is one heap object with
// no malloc'd memory inside, so the collector needs a tracer but no
// finalizer.
//
//   bitmap node    (flags == kBitmapNode): `aux` is the bitmap of slices that
//                  hold an entry, `nodemap` of slices that hold a child. The
//                  entries (key String, value) come first, in slice order,
//                  then one pointer per child, in slice order. A child costs
//                  8 bytes, which halves what an update copies on the
//                  crowded upper levels of a large dict.
//   collision node (flags == kCollisionNode): every key has the same full
//                  hash (`aux`); `ndata` entries, searched linearly.
//
// Updates copy only the nodes on the path from the root to the changed slot
// (at most 8 levels), so old versions stay valid. A transient (see
// DictAssocTransient) skips even that for nodes it owns: each node records
// the transient header that may still change it (`owner`), and every other
// node is copied before a change. Removal keeps the trie compact: a subtree
// left with a single entry is folded into its parent. The recursion in these
// helpers is bounded by the trie height, never by the data.
#include "interp/dict.h"

#include <algorithm>
#include <cstring>

namespace sx::interp {

namespace {

constexpr uint16_t kBitmapNode = 0;
constexpr uint16_t kCollisionNode = 1;
constexpr int kBits = 5;
constexpr int kMaxShift = 30;  // the last slice (bits 30..31) is 2 bits wide

struct Node : Obj {
  uint32_t nodemap;  // bitmap nodes: the slices that hold a child
  uint32_t ndata;    // entries
  // The transient dict header allowed to update this node in place, or
  // nullptr (see DictAssocTransient). Traced, so the address cannot be
  // reused by another header while the node lives.
  Obj* owner;
  Value* entries() { return reinterpret_cast<Value*>(this + 1); }
  Value& key(size_t i) { return entries()[2 * i]; }
  Value& val(size_t i) { return entries()[2 * i + 1]; }
  Node** children() { return reinterpret_cast<Node**>(entries() + 2 * ndata); }
  Node*& child(size_t i) { return children()[i]; }
  uint32_t nchild() const;
};

uint32_t (*g_test_hash)(std::string_view) = nullptr;

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

uint32_t Node::nchild() const { return PopCount32(nodemap); }

size_t PayloadBytes(uint32_t ndata, uint32_t nchild) {
  return 2 * sizeof(Value) * ndata + sizeof(Node*) * nchild;
}

// Every caller fills all entries and children before the next safe point.
Node* NewNode(Heap& heap, uint16_t kind, uint32_t datamap, uint32_t nodemap, uint32_t ndata) {
  uint32_t nchild = PopCount32(nodemap);
  auto* node = static_cast<Node*>(
      heap.AllocateRaw(ObjType::kHamtNode, sizeof(Node) + PayloadBytes(ndata, nchild)));
  node->flags = kind;
  node->aux = datamap;
  node->nodemap = nodemap;
  node->ndata = ndata;
  node->owner = nullptr;
  return node;
}

Node* CopyNode(Heap& heap, Node* src) {
  Node* node = NewNode(heap, src->flags, src->aux, src->nodemap, src->ndata);
  std::memcpy(node->entries(), src->entries(), PayloadBytes(src->ndata, src->nchild()));
  return node;
}

// A copy of `src` with the entry (k, v) inserted as entry `at`, and the
// bitmaps given.
Node* InsertEntry(Heap& heap, Node* src, uint32_t datamap, size_t at, Value k, Value v) {
  Node* node = NewNode(heap, src->flags, datamap, src->nodemap, src->ndata + 1);
  Value* from = src->entries();
  Value* to = node->entries();
  std::memcpy(to, from, 2 * sizeof(Value) * at);
  to[2 * at] = k;
  to[2 * at + 1] = v;
  std::memcpy(to + 2 * (at + 1), from + 2 * at,
              2 * sizeof(Value) * (src->ndata - at) + sizeof(Node*) * src->nchild());
  return node;
}

// A copy of `src` without entry `at`.
Node* RemoveEntry(Heap& heap, Node* src, uint32_t datamap, size_t at) {
  Node* node = NewNode(heap, src->flags, datamap, src->nodemap, src->ndata - 1);
  Value* from = src->entries();
  Value* to = node->entries();
  std::memcpy(to, from, 2 * sizeof(Value) * at);
  std::memcpy(to + 2 * at, from + 2 * (at + 1),
              2 * sizeof(Value) * (src->ndata - at - 1) + sizeof(Node*) * src->nchild());
  return node;
}

// A copy of `src` whose entry in slice `bit` became the child `sub`.
Node* EntryToChild(Heap& heap, Node* src, uint32_t bit, Node* sub) {
  size_t di = SlotIndex(src->aux, bit);
  size_t ci = SlotIndex(src->nodemap, bit);
  Node* node = NewNode(heap, kBitmapNode, src->aux & ~bit, src->nodemap | bit, src->ndata - 1);
  Value* from = src->entries();
  Value* to = node->entries();
  std::memcpy(to, from, 2 * sizeof(Value) * di);
  std::memcpy(to + 2 * di, from + 2 * (di + 1), 2 * sizeof(Value) * (src->ndata - di - 1));
  Node** cf = src->children();
  Node** ct = node->children();
  std::memcpy(ct, cf, sizeof(Node*) * ci);
  ct[ci] = sub;
  std::memcpy(ct + ci + 1, cf + ci, sizeof(Node*) * (src->nchild() - ci));
  return node;
}

// A copy of `src` whose child in slice `bit` became the entry (k, v).
Node* ChildToEntry(Heap& heap, Node* src, uint32_t bit, Value k, Value v) {
  size_t di = SlotIndex(src->aux, bit);
  size_t ci = SlotIndex(src->nodemap, bit);
  Node* node = NewNode(heap, kBitmapNode, src->aux | bit, src->nodemap & ~bit, src->ndata + 1);
  Value* from = src->entries();
  Value* to = node->entries();
  std::memcpy(to, from, 2 * sizeof(Value) * di);
  to[2 * di] = k;
  to[2 * di + 1] = v;
  std::memcpy(to + 2 * (di + 1), from + 2 * di, 2 * sizeof(Value) * (src->ndata - di));
  Node** cf = src->children();
  Node** ct = node->children();
  std::memcpy(ct, cf, sizeof(Node*) * ci);
  std::memcpy(ct + ci, cf + ci + 1, sizeof(Node*) * (src->nchild() - ci - 1));
  return node;
}

// A copy of `src` without its child in slice `bit`.
Node* RemoveChild(Heap& heap, Node* src, uint32_t bit) {
  size_t ci = SlotIndex(src->nodemap, bit);
  Node* node = NewNode(heap, kBitmapNode, src->aux, src->nodemap & ~bit, src->ndata);
  std::memcpy(node->entries(), src->entries(), 2 * sizeof(Value) * src->ndata);
  Node** cf = src->children();
  Node** ct = node->children();
  std::memcpy(ct, cf, sizeof(Node*) * ci);
  std::memcpy(ct + ci, cf + ci + 1, sizeof(Node*) * (src->nchild() - ci - 1));
  return node;
}

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
              uint32_t h2, Obj* owner = nullptr) {
  if (shift > kMaxShift) {
    Node* node = NewNode(heap, kCollisionNode, h1, 0, 2);
    node->owner = owner;
    node->key(0) = k1;
    node->val(0) = v1;
    node->key(1) = k2;
    node->val(1) = v2;
    return node;
  }
  uint32_t f1 = Fragment(h1, shift), f2 = Fragment(h2, shift);
  if (f1 == f2) {
    Node* sub = MakeTwo(heap, shift + kBits, k1, v1, h1, k2, v2, h2, owner);
    Node* node = NewNode(heap, kBitmapNode, 0, 1u << f1, 0);
    node->owner = owner;
    node->child(0) = sub;
    return node;
  }
  Node* node = NewNode(heap, kBitmapNode, (1u << f1) | (1u << f2), 0, 2);
  node->owner = owner;
  size_t a = f1 < f2 ? 0 : 1;
  node->key(a) = k1;
  node->val(a) = v1;
  node->key(1 - a) = k2;
  node->val(1 - a) = v2;
  return node;
}

// A copy of `node` with entry i's value replaced.
Node* WithValue(Heap& heap, Node* node, size_t i, Value val) {
  Node* copy = CopyNode(heap, node);
  copy->val(i) = val;
  return copy;
}

Node* Assoc(Heap& heap, Node* node, int shift, uint32_t hash, String* key, Value val, bool* added) {
  Value k = Value::Object(key);
  if (node->flags == kCollisionNode) {
    for (size_t i = 0; i < node->ndata; ++i) {
      if (KeyIs(node->key(i), key->View())) {
        return node->val(i) == val ? node : WithValue(heap, node, i, val);
      }
    }
    *added = true;
    return InsertEntry(heap, node, node->aux, node->ndata, k, val);
  }
  uint32_t bit = 1u << Fragment(hash, shift);
  if (node->aux & bit) {
    size_t i = SlotIndex(node->aux, bit);
    if (KeyIs(node->key(i), key->View())) {
      return node->val(i) == val ? node : WithValue(heap, node, i, val);
    }
    *added = true;
    Value old_key = node->key(i);
    Node* sub = MakeTwo(heap, shift + kBits, old_key, node->val(i), HashString(AsString(old_key)),
                        k, val, hash);
    return EntryToChild(heap, node, bit, sub);
  }
  if (node->nodemap & bit) {
    size_t ci = SlotIndex(node->nodemap, bit);
    Node* child = node->child(ci);
    Node* updated = Assoc(heap, child, shift + kBits, hash, key, val, added);
    if (updated == child) return node;
    Node* copy = CopyNode(heap, node);
    copy->child(ci) = updated;
    return copy;
  }
  *added = true;
  return InsertEntry(heap, node, node->aux | bit, SlotIndex(node->aux, bit), k, val);
}

Node* Owned(Node* node, Obj* owner) {
  node->owner = owner;
  return node;
}

// Assoc on behalf of the transient header `owner`: a node it owns changes in
// place, any other node on the path is copied once and owned from then on.
// Returns what replaces `node` in its parent, usually `node` itself; a node
// that gains an entry is reallocated, since objects never grow.
Node* AssocOwned(Heap& heap, Obj* owner, Node* node, int shift, uint32_t hash, String* key,
                 Value val, bool* added) {
  Value k = Value::Object(key);
  if (node->flags == kCollisionNode) {
    for (size_t i = 0; i < node->ndata; ++i) {
      if (KeyIs(node->key(i), key->View())) {
        if (node->owner != owner) node = Owned(CopyNode(heap, node), owner);
        node->val(i) = val;
        return node;
      }
    }
    *added = true;
    return Owned(InsertEntry(heap, node, node->aux, node->ndata, k, val), owner);
  }
  uint32_t bit = 1u << Fragment(hash, shift);
  if (node->aux & bit) {
    size_t i = SlotIndex(node->aux, bit);
    if (KeyIs(node->key(i), key->View())) {
      if (node->owner != owner) node = Owned(CopyNode(heap, node), owner);
      node->val(i) = val;
      return node;
    }
    *added = true;
    Value old_key = node->key(i);
    Node* sub = MakeTwo(heap, shift + kBits, old_key, node->val(i), HashString(AsString(old_key)),
                        k, val, hash, owner);
    return Owned(EntryToChild(heap, node, bit, sub), owner);
  }
  if (node->nodemap & bit) {
    if (node->owner != owner) node = Owned(CopyNode(heap, node), owner);
    size_t ci = SlotIndex(node->nodemap, bit);
    node->child(ci) =
        AssocOwned(heap, owner, node->child(ci), shift + kBits, hash, key, val, added);
    return node;
  }
  *added = true;
  return Owned(InsertEntry(heap, node, node->aux | bit, SlotIndex(node->aux, bit), k, val), owner);
}

// What removing a key did to a subtree.
struct Removal {
  enum Kind { kNotFound, kEmpty, kNode, kSingle } kind = kNotFound;
  Node* node = nullptr;  // kNode
  Value key, val;        // kSingle: the subtree's one remaining entry
};

// `node` without its entry in slice `bit`: empty, a single entry for the
// parent to take in (below the root), or a smaller node.
Removal WithoutEntry(Heap& heap, Node* node, int shift, uint32_t bit) {
  Removal r;
  size_t i = SlotIndex(node->aux, bit);
  if (node->ndata == 1 && node->nodemap == 0) {
    r.kind = Removal::kEmpty;
    return r;
  }
  if (node->ndata == 2 && node->nodemap == 0 && shift > 0) {
    r.kind = Removal::kSingle;
    r.key = node->key(1 - i);
    r.val = node->val(1 - i);
    return r;
  }
  r.kind = Removal::kNode;
  r.node = RemoveEntry(heap, node, node->aux & ~bit, i);
  return r;
}

Removal Remove(Heap& heap, Node* node, int shift, uint32_t hash, std::string_view key) {
  Removal r;
  if (node->flags == kCollisionNode) {
    for (size_t i = 0; i < node->ndata; ++i) {
      if (!KeyIs(node->key(i), key)) continue;
      if (node->ndata == 2) {
        r.kind = Removal::kSingle;
        r.key = node->key(1 - i);
        r.val = node->val(1 - i);
      } else {
        r.kind = Removal::kNode;
        r.node = RemoveEntry(heap, node, node->aux, i);
      }
      return r;
    }
    return r;
  }
  uint32_t bit = 1u << Fragment(hash, shift);
  if (node->aux & bit) {
    if (!KeyIs(node->key(SlotIndex(node->aux, bit)), key)) return r;
    return WithoutEntry(heap, node, shift, bit);
  }
  if ((node->nodemap & bit) == 0) return r;
  size_t ci = SlotIndex(node->nodemap, bit);
  Removal sub = Remove(heap, node->child(ci), shift + kBits, hash, key);
  switch (sub.kind) {
    case Removal::kNotFound:
      return sub;
    case Removal::kEmpty:  // a child never empties (it folds first), but be safe
      if (node->ndata == 0 && node->nchild() == 1) return sub;
      r.kind = Removal::kNode;
      r.node = RemoveChild(heap, node, bit);
      return r;
    case Removal::kSingle:
      // Keep folding upward while this node would hold nothing else.
      if (node->ndata == 0 && node->nchild() == 1 && shift > 0) return sub;
      r.kind = Removal::kNode;
      r.node = ChildToEntry(heap, node, bit, sub.key, sub.val);
      return r;
    case Removal::kNode:
      r.kind = Removal::kNode;
      r.node = CopyNode(heap, node);
      r.node->child(ci) = sub.node;
      return r;
  }
  return r;
}

Value Find(Value dict, std::string_view key, uint32_t hash) {
  auto* node = static_cast<Node*>(AsDict(dict)->root);
  int shift = 0;
  while (node != nullptr) {
    if (node->flags == kCollisionNode) {
      for (size_t i = 0; i < node->ndata; ++i) {
        if (KeyIs(node->key(i), key)) return node->val(i);
      }
      return Value::Undefined();
    }
    uint32_t bit = 1u << Fragment(hash, shift);
    if (node->aux & bit) {
      size_t i = SlotIndex(node->aux, bit);
      return KeyIs(node->key(i), key) ? node->val(i) : Value::Undefined();
    }
    if ((node->nodemap & bit) == 0) return Value::Undefined();
    node = node->child(SlotIndex(node->nodemap, bit));
    shift += kBits;
  }
  return Value::Undefined();
}

void ForEachIn(Node* node, const std::function<void(String*, Value)>& fn) {
  for (size_t i = 0; i < node->ndata; ++i) fn(AsString(node->key(i)), node->val(i));
  for (size_t i = 0, n = node->nchild(); i < n; ++i) ForEachIn(node->child(i), fn);
}

Value MakeDict(Heap& heap, Node* root, size_t count) {
  auto* d = static_cast<Dict*>(heap.AllocateRaw(ObjType::kDict, sizeof(Dict)));
  d->count = count;
  d->root = root;
  return Value::Object(d);
}

void TraceNode(Heap& heap, Obj* o) {
  auto* node = static_cast<Node*>(o);
  for (size_t i = 0; i < 2 * node->ndata; ++i) heap.Mark(node->entries()[i]);
  for (size_t i = 0, n = node->nchild(); i < n; ++i) heap.MarkObj(node->child(i));
  heap.MarkObj(node->owner);
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
  Dict* d = AsDict(dict);
  uint32_t hash = HashString(key);
  if (d->root == nullptr) {
    Node* node = NewNode(heap, kBitmapNode, 1u << Fragment(hash, 0), 0, 1);
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

Value DictAssocTransient(Heap& heap, Value dict, String* key, Value val) {
  Dict* d = AsDict(dict);
  if (!(d->flags & kDictTransient)) {
    d = AsDict(MakeDict(heap, static_cast<Node*>(d->root), d->count));
    d->flags = kDictTransient;
  }
  uint32_t hash = HashString(key);
  bool added = false;
  if (d->root == nullptr) {
    Node* node = Owned(NewNode(heap, kBitmapNode, 1u << Fragment(hash, 0), 0, 1), d);
    node->key(0) = Value::Object(key);
    node->val(0) = val;
    d->root = node;
    added = true;
  } else {
    d->root = AssocOwned(heap, d, static_cast<Node*>(d->root), 0, hash, key, val, &added);
  }
  if (added) d->count++;
  return Value::Object(d);
}

void DictFreeze(Value dict) {
  if (IsDict(dict)) AsDict(dict)->flags &= static_cast<uint16_t>(~kDictTransient);
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
