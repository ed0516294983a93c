// heap.cc — size-class arenas and a mark-and-sweep collector.
//
// Small objects (up to 1 KiB) are carved from 64 KiB chunks, one size
// class per chunk, so a list cell costs exactly its 24 bytes and sweeping is
// a linear walk. A free slot keeps type kFree and links to the next free slot
// of its class. Large objects are malloc'd with a 16-byte prefix holding their
// size. The collector never moves anything, and runs only from Collect(),
// which the machine calls at its safe points.
#include "interp/heap.h"

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace sx::interp {

namespace {

// Offsets of the trailing byte arrays. String and StrBuf derive from Obj, so
// they are not standard-layout and offsetof would only be conditionally
// supported; the arrays follow the last pointer-sized field.
constexpr size_t kStringBytesOffset = sizeof(Obj) + sizeof(size_t) + sizeof(char*) + sizeof(Obj*);
constexpr size_t kStrBufBytesOffset = sizeof(Obj) + 2 * sizeof(size_t);

constexpr size_t kChunkBytes = 64 * 1024;
constexpr size_t kLargePrefix = 16;

size_t LargeSize(Obj* o) {
  return *reinterpret_cast<size_t*>(reinterpret_cast<char*>(o) - kLargePrefix);
}

}  // namespace

struct Heap::Chunk {
  size_t slot_size;
  size_t nslots;
  char* mem;
};

Heap::Heap() {
  SetFinalizer(ObjType::kVec, [](Obj* o) { std::free(static_cast<Vec*>(o)->items); });
  reserve_ = std::malloc(kReserveBytes);
}

void Heap::OnAllocationFailure() {
  std::free(reserve_);
  reserve_ = nullptr;
  threshold_ = 0;
}

Heap::~Heap() {
  // Run finalizers for everything still allocated, then release memory.
  for (Chunk* c : chunks_) {
    for (size_t i = 0; i < c->nslots; ++i) {
      Obj* o = reinterpret_cast<Obj*>(c->mem + i * c->slot_size);
      if (o->type != ObjType::kFree) {
        Finalizer fin = finalizers_[static_cast<int>(o->type)];
        if (fin) fin(o);
      }
    }
    SX_UNPOISON(c->mem, kChunkBytes);
    std::free(c->mem);
    delete c;
  }
  for (char* mem : spare_chunks_) {
    SX_UNPOISON(mem, kChunkBytes);
    std::free(mem);
  }
  for (Obj* o : large_) FreeObj(o);
  std::free(reserve_);
}

Obj* Heap::Allocate(ObjType type, size_t bytes) {
  MaybeFail();
  bytes = SlotBytes(bytes);
  Obj* o;
  if (bytes <= kMaxSmall) {
    o = AllocateSmall(bytes / kGranule);
  } else {
    char* mem = static_cast<char*>(std::malloc(bytes + kLargePrefix));
    if (mem == nullptr) throw std::bad_alloc();
    *reinterpret_cast<size_t*>(mem) = bytes;
    o = reinterpret_cast<Obj*>(mem + kLargePrefix);
    large_.push_back(o);
  }
  std::memset(static_cast<void*>(o), 0, bytes);
  o->type = type;
  bytes_since_gc_ += bytes;
  return o;
}

// The slow path of AllocateRaw: a large object, an empty free list, or an
// armed allocation-failure test switch.
Obj* Heap::AllocateRawSlow(ObjType type, size_t bytes) {
  bytes = SlotBytes(bytes);
  if (bytes > kMaxSmall) return Allocate(type, bytes);
  MaybeFail();
  return Claim(AllocateSmall(bytes / kGranule), type, bytes);
}

Obj* Heap::AllocateSmall(size_t cls) {
  if (free_lists_[cls] == nullptr) NewChunk(cls);
  auto* slot = static_cast<FreeSlot*>(free_lists_[cls]);
  free_lists_[cls] = slot->next;
  SX_UNPOISON(reinterpret_cast<char*>(slot) + kMinBytes, cls * kGranule - kMinBytes);
  return slot;
}

void Heap::NewChunk(size_t cls) {
  auto* c = new Chunk;
  c->slot_size = cls * kGranule;
  c->nslots = kChunkBytes / c->slot_size;
  if (!spare_chunks_.empty()) {
    c->mem = spare_chunks_.back();
    spare_chunks_.pop_back();
    SX_UNPOISON(c->mem, kChunkBytes);  // released slots of its last class
  } else {
    c->mem = static_cast<char*>(std::malloc(kChunkBytes));
  }
  if (c->mem == nullptr) {
    delete c;
    throw std::bad_alloc();
  }
  // Link slots so that allocation walks the chunk in address order.
  FreeSlot* next = static_cast<FreeSlot*>(free_lists_[cls]);
  for (size_t i = c->nslots; i-- > 0;) {
    auto* s = reinterpret_cast<FreeSlot*>(c->mem + i * c->slot_size);
    s->type = ObjType::kFree;
    s->marked = 0;
    s->next = next;
    next = s;
  }
  free_lists_[cls] = next;
  chunks_.push_back(c);
}

Value Heap::MakeInt(int64_t n) {
  if (Value::FitsSmall(n)) return Value::SmallInt(n);
  auto* b = New<BigInt>(ObjType::kBigInt);
  b->value = n;
  return Value::Object(b);
}

String* Heap::NewString(size_t len) {
  auto* s = static_cast<String*>(Allocate(ObjType::kString, kStringBytesOffset + len + 1));
  s->len = len;
  s->data = s->inline_data;
  s->buf = nullptr;
  s->data[len] = '\0';
  return s;
}

Value Heap::AppendString(String* head, std::string_view tail) {
  size_t total = head->len + tail.size();
  auto* b = static_cast<StrBuf*>(head->buf);
  bool at_end = b != nullptr && head->data + head->len == b->bytes + b->used;
  if (!at_end || b->used + tail.size() > b->cap) {
    if (total < 64) {
      String* s = NewString(total);
      std::memcpy(s->data, head->data, head->len);
      if (!tail.empty()) std::memcpy(s->data + head->len, tail.data(), tail.size());
      return Value::Object(s);
    }
    size_t cap = total * 2;
    b = static_cast<StrBuf*>(Allocate(ObjType::kStrBuf, kStrBufBytesOffset + cap));
    b->cap = cap;
    b->used = head->len;
    std::memcpy(b->bytes, head->data, head->len);
    head = nullptr;  // the new buffer starts a fresh run
  }
  if (!tail.empty()) std::memcpy(b->bytes + b->used, tail.data(), tail.size());
  b->used += tail.size();
  auto* s = New<String>(ObjType::kString);
  s->len = total;
  s->data = b->bytes + b->used - total;
  s->buf = b;
  return Value::Object(s);
}

Value Heap::MakeString(std::string_view text) {
  String* s = NewString(text.size());
  if (!text.empty()) std::memcpy(s->data, text.data(), text.size());
  return Value::Object(s);
}

Value Heap::Cons(Value car, Value cdr) {
  auto* p = New<Pair>(ObjType::kPair);
  p->car = car;
  p->cdr = cdr;
  return Value::Object(p);
}

Value Heap::MakeError(Value message, Value data) {
  auto* e = New<ErrorObj>(ObjType::kError);
  e->message = message;
  e->data = data;
  e->trace = Value::EmptyList();
  return Value::Object(e);
}

Vec* Heap::NewVec(size_t cap) {
  auto* v = New<Vec>(ObjType::kVec);
  if (cap == 0) cap = 1;
  v->items = static_cast<Value*>(std::malloc(cap * sizeof(Value)));
  if (v->items == nullptr) throw std::bad_alloc();
  v->size = 0;
  v->cap = cap;
  return v;
}

void Heap::VecPush(Vec* v, Value x) {
  if (v->size == v->cap) {
    size_t cap = v->cap * 2;
    auto* items = static_cast<Value*>(std::realloc(v->items, cap * sizeof(Value)));
    if (items == nullptr) throw std::bad_alloc();
    // Account the growth so that big vectors push the collector along.
    bytes_since_gc_ += (cap - v->cap) * sizeof(Value);
    vec_growth_ += (cap - v->cap) * sizeof(Value);
    v->items = items;
    v->cap = cap;
  }
  v->items[v->size++] = x;
}

Value Heap::ListFrom(const Value* items, size_t n) {
  Value list = Value::EmptyList();
  for (size_t i = n; i-- > 0;) list = Cons(items[i], list);
  return list;
}

Symbol* Heap::Intern(std::string_view name) {
  auto it = symbols_.find(name);
  if (it != symbols_.end()) return it->second;
  String* s = AsString(MakeString(name));
  auto* sym = New<Symbol>(ObjType::kSymbol);
  sym->name = s;
  sym->global = Value::Undefined();
  symbols_.emplace(s->View(), sym);
  return sym;
}

Keyword* Heap::InternKeyword(std::string_view name) {
  auto it = keywords_.find(name);
  if (it != keywords_.end()) return it->second;
  String* s = AsString(MakeString(name));
  auto* kw = New<Keyword>(ObjType::kKeyword);
  kw->name = s;
  keywords_.emplace(s->View(), kw);
  return kw;
}

void Heap::ForEachSymbol(const std::function<void(Symbol*)>& fn) const {
  for (const auto& [name, sym] : symbols_) fn(sym);
}

// --- collection ------------------------------------------------------------

void Heap::Collect() {
  // Everything that may allocate (the gray stack, the sweep's lists) happens
  // before anything is freed. If memory runs out there, the marks are wiped
  // and the collection is given up: a stale mark would hide an object's
  // children from the next collection.
  std::vector<Chunk*> kept;
  try {
    gray_.clear();
    // Interned symbols and keywords are permanent: they carry the globals.
    for (const auto& [name, sym] : symbols_) MarkObj(sym);
    for (const auto& [name, kw] : keywords_) MarkObj(kw);
    if (root_marker_) root_marker_(*this);
    while (!gray_.empty()) {
      Obj* o = gray_.back();
      gray_.pop_back();
      Trace(o);
    }
    kept.reserve(chunks_.size());
    spare_chunks_.reserve(SpareLimit());
  } catch (std::bad_alloc&) {
    gray_.clear();
    ClearMarks();
    return;
  }
  stats_ = stats();  // fold in what was allocated since the last collection
  bytes_since_gc_ = 0;
  vec_growth_ = 0;
  released_ = 0;
  Sweep(kept);
  stats_.collections++;
  stats_.live_bytes = stats_.allocated_bytes;
  // Collect again once as much has been allocated as survived (at least 8 MiB).
  threshold_ = std::max<size_t>(8u << 20, stats_.live_bytes + stats_.live_bytes / 2);
  if (reserve_ == nullptr) reserve_ = std::malloc(kReserveBytes);
}

void Heap::Trace(Obj* o) {
  switch (o->type) {
    case ObjType::kSymbol: {
      auto* s = static_cast<Symbol*>(o);
      MarkObj(s->name);
      Mark(s->global);
      break;
    }
    case ObjType::kString:
      MarkObj(static_cast<String*>(o)->buf);
      break;
    case ObjType::kKeyword:
      MarkObj(static_cast<Keyword*>(o)->name);
      break;
    case ObjType::kPair: {
      // Walk down the spine here rather than through the gray stack: a
      // long list costs one step per cell, not a push and a pop.
      auto* p = static_cast<Pair*>(o);
      for (;;) {
        Mark(p->car);
        if (!IsPair(p->cdr)) {
          Mark(p->cdr);
          break;
        }
        p = AsPair(p->cdr);
        if (p->marked) break;
        p->marked = 1;
      }
      break;
    }
    case ObjType::kError: {
      auto* e = static_cast<ErrorObj*>(o);
      Mark(e->message);
      Mark(e->data);
      Mark(e->trace);
      break;
    }
    case ObjType::kVec: {
      auto* v = static_cast<Vec*>(o);
      for (size_t i = 0; i < v->size; ++i) Mark(v->items[i]);
      break;
    }
    default: {
      Tracer t = tracers_[static_cast<int>(o->type)];
      if (t) t(*this, o);
      break;
    }
  }
}

void Heap::FreeObj(Obj* o) {
  Finalizer fin = finalizers_[static_cast<int>(o->type)];
  if (fin) fin(o);
  size_t size = ObjSize(o);
  stats_.allocated_bytes -= size;
  std::free(reinterpret_cast<char*>(o) - kLargePrefix);
}

size_t Heap::ObjSize(Obj* o) const { return LargeSize(o); }

void Heap::ClearMarks() {
  for (Chunk* c : chunks_) {
    for (size_t i = 0; i < c->nslots; ++i)
      reinterpret_cast<Obj*>(c->mem + i * c->slot_size)->marked = 0;
  }
  for (Obj* o : large_) o->marked = 0;
}

void Heap::Sweep(std::vector<Chunk*>& kept) {
  // One pass over each chunk: finalize and free the unmarked, unmark the
  // marked, and thread the free slots onto their class's list in address
  // order (tails[cls] is where the next free slot of that class goes).
  Obj** tails[kClasses + 1];
  for (size_t cls = 0; cls <= kClasses; ++cls) {
    free_lists_[cls] = nullptr;
    tails[cls] = &free_lists_[cls];
  }
  size_t spare_limit = SpareLimit();
  for (Chunk* c : chunks_) {
    size_t cls = c->slot_size / kGranule;
    Obj** tail = tails[cls];
    size_t live = 0, freed = 0;
    char* end = c->mem + c->nslots * c->slot_size;
    for (char* p = c->mem; p != end; p += c->slot_size) {
      Obj* o = reinterpret_cast<Obj*>(p);
      if (o->marked) {
        o->marked = 0;
        ++live;
        continue;
      }
      if (o->type != ObjType::kFree) {
        if (Finalizer fin = finalizers_[static_cast<int>(o->type)]) fin(o);
        o->type = ObjType::kFree;
        ++freed;
      }
      *tail = o;
      tail = &static_cast<FreeSlot*>(o)->next;
    }
    stats_.allocated_bytes -= freed * c->slot_size;
    if (live == 0) {
      // An empty chunk: unthread its slots and keep its memory for the next
      // chunk of any class (up to a bound), or give it back.
      *tails[cls] = nullptr;
      if (spare_chunks_.size() < spare_limit) {
        spare_chunks_.push_back(c->mem);
      } else {
        SX_UNPOISON(c->mem, kChunkBytes);
        std::free(c->mem);
      }
      delete c;
      continue;
    }
    tails[cls] = tail;
    kept.push_back(c);
  }
  for (size_t cls = 0; cls <= kClasses; ++cls) *tails[cls] = nullptr;
  chunks_.swap(kept);

  size_t j = 0;
  for (Obj* o : large_) {
    if (o->marked) {
      o->marked = 0;
      large_[j++] = o;
    } else {
      FreeObj(o);
    }
  }
  large_.resize(j);
}

}  // namespace sx::interp
