// heap.h — every SX allocation, and the tracing collector that frees them.
//
// Small objects come from per-size-class arenas (64 KiB chunks, free lists);
// large ones from malloc. Collection is mark-and-sweep and happens ONLY at a
// safe point, when the machine calls Collect() between steps. Natives, the
// reader and the compiler may therefore hold raw Values in C++ locals while
// they allocate: nothing moves and nothing is freed until the next safe point.
// Anything that must survive a safe point must be reachable from a root: the
// root callback the owner installs (interpreter globals, task stacks, handles).
//
// Types defined outside this file (dicts, compiled code, tasks) register a
// tracer, and a finalizer when they own malloc'd memory. Single-threaded.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <new>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "interp/value.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
// A released slot's body is poisoned until it is allocated again, so that
// AddressSanitizer reports any use through a stale reference.
#define SX_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define SX_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define SX_POISON(p, n) ((void)(p), (void)(n))
#define SX_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace sx::interp {

struct ErrorObj : Obj {
  Value message;  // a string
  Value data;     // any value, nil when absent
  Value trace;    // list of strings (frames), filled when raised
};

// Internal growable array of values, used by natives that build results
// incrementally (sort, list building across machine steps).
struct Vec : Obj {
  Value* items;
  size_t size;
  size_t cap;
};

class Heap {
 public:
  using Tracer = void (*)(Heap&, Obj*);
  using Finalizer = void (*)(Obj*);
  using RootMarker = std::function<void(Heap&)>;

  Heap();
  ~Heap();
  Heap(const Heap&) = delete;
  Heap& operator=(const Heap&) = delete;

  // Raw allocation: returns `bytes` of storage with the header filled
  // (type set, marked = 0, flags = 0, aux = 0); the rest is zeroed.
  Obj* Allocate(ObjType type, size_t bytes);
  // As Allocate, but only the header is initialised: the caller fills every
  // field before the next safe point. The common case (a small object, a
  // non-empty free list) is inline: the machine allocates a frame per call.
  [[gnu::always_inline]] Obj* AllocateRaw(ObjType type, size_t bytes) {
    bytes = SlotBytes(bytes);
    Obj* o = bytes <= kMaxSmall ? free_lists_[bytes / kGranule] : nullptr;
    if (o == nullptr || fail_after_ != 0) return AllocateRawSlow(type, bytes);
    free_lists_[bytes / kGranule] = static_cast<FreeSlot*>(o)->next;
    return Claim(o, type, bytes);
  }
  // Gives a small object back at once instead of waiting for a collection.
  // Only for an object that nothing can reference any more: the machine
  // releases a call's frame when the call returns and nothing captured it.
  void Release(Obj* o, size_t bytes) {
    bytes = SlotBytes(bytes);
    auto* s = static_cast<FreeSlot*>(o);
    s->type = ObjType::kFree;
    s->marked = 0;
    s->next = free_lists_[bytes / kGranule];
    free_lists_[bytes / kGranule] = s;
    SX_POISON(reinterpret_cast<char*>(o) + kMinBytes, bytes - kMinBytes);
    // Collections are paced by what is allocated and not given back.
    if (bytes_since_gc_ >= bytes) {
      bytes_since_gc_ -= bytes;
      released_ += bytes;
    } else {
      stats_.allocated_bytes -= bytes;  // allocated before the last collection
    }
  }

  template <class T>
  T* New(ObjType type, size_t extra = 0) {
    return static_cast<T*>(Allocate(type, sizeof(T) + extra));
  }

  // --- value constructors --------------------------------------------------
  Value MakeInt(int64_t n);
  Value MakeString(std::string_view s);
  String* NewString(size_t len);  // data uninitialised except trailing NUL
  // head's bytes followed by tail's. Appends in place when head is the
  // longest view of a buffer with room: repeated appends cost linear time.
  Value AppendString(String* head, std::string_view tail);
  Value Cons(Value car, Value cdr);
  Value MakeError(Value message, Value data);
  Vec* NewVec(size_t cap = 8);
  void VecPush(Vec* v, Value x);
  // Builds a list from a range of values, preserving order.
  Value ListFrom(const Value* items, size_t n);

  // Interning: the same name always gives the same object.
  Symbol* Intern(std::string_view name);
  Keyword* InternKeyword(std::string_view name);
  void ForEachSymbol(const std::function<void(Symbol*)>& fn) const;

  // --- collection ----------------------------------------------------------
  void SetTracer(ObjType t, Tracer fn) { tracers_[static_cast<int>(t)] = fn; }
  void SetFinalizer(ObjType t, Finalizer fn) { finalizers_[static_cast<int>(t)] = fn; }
  void SetRootMarker(RootMarker fn) { root_marker_ = std::move(fn); }

  // Cheap check for the machine's safe points.
  bool ShouldCollect() const { return bytes_since_gc_ >= threshold_; }
  void Collect();
  // When an allocation has failed: gives back the memory set aside for this
  // moment (so raising "out of memory", unwinding to a guard and running its
  // handler have room) and asks for a collection at the next safe point,
  // which frees what the failed computation held and sets memory aside again.
  void OnAllocationFailure();

  // For tracers and root markers.
  void Mark(Value v) {
    if (v.IsObj()) MarkObj(v.AsObj());
  }
  void MarkObj(Obj* o) {
    if (o == nullptr || o->marked) return;
    o->marked = 1;
    switch (o->type) {
      case ObjType::kBigInt:
      case ObjType::kStrBuf:
        return;  // no references: nothing to trace
      case ObjType::kString:
        // A string's only reference is its buffer, which has none.
        if (Obj* buf = static_cast<String*>(o)->buf) buf->marked = 1;
        return;
      default:
        gray_.push_back(o);
    }
  }

  struct Stats {
    size_t collections = 0;
    size_t live_bytes = 0;       // after the last collection
    size_t allocated_bytes = 0;  // currently allocated (live + garbage)
    size_t total_allocated = 0;  // ever
  };
  Stats stats() const {
    // Allocation counts only bytes_since_gc_; the totals catch up here and
    // at each collection.
    Stats s = stats_;
    s.allocated_bytes += bytes_since_gc_ - vec_growth_;
    s.total_allocated += bytes_since_gc_ + released_ - vec_growth_;
    return s;
  }

  // Test switches: the Nth allocation from now fails with std::bad_alloc
  // (0 disables); FailAllocationsFrom(n): the Nth and every one after it,
  // until a switch is set again, as memory that ran out stays out.
  void FailAllocationAfter(size_t n) {
    fail_after_ = n;
    fail_sticky_ = false;
  }
  void FailAllocationsFrom(size_t n) {
    fail_after_ = n;
    fail_sticky_ = n != 0;
  }

 private:
  struct Chunk;
  // A free small slot: linked into its size class's free list.
  struct FreeSlot : Obj {
    Obj* next;
  };
  static constexpr size_t kMinBytes = sizeof(FreeSlot);
  static constexpr size_t kGranule = 8;
  static constexpr size_t kMaxSmall = 1024;
  static constexpr size_t kClasses = kMaxSmall / kGranule;
  // What an object of `bytes` takes: whole granules, at least a free slot.
  static constexpr size_t SlotBytes(size_t bytes) {
    return bytes < kMinBytes ? kMinBytes : (bytes + kGranule - 1) & ~(kGranule - 1);
  }

  Obj* AllocateRawSlow(ObjType type, size_t bytes);
  // The test switches' check, on the slow paths only.
  void MaybeFail() {
    if (fail_after_ != 0 && --fail_after_ == 0) {
      if (fail_sticky_) fail_after_ = 1;
      throw std::bad_alloc();
    }
  }
  // Fills the header of a small slot just taken for a new object.
  Obj* Claim(Obj* o, ObjType type, size_t bytes) {
    SX_UNPOISON(reinterpret_cast<char*>(o) + kMinBytes, bytes - kMinBytes);
    o->type = type;
    o->marked = 0;
    o->flags = 0;
    o->aux = 0;
    bytes_since_gc_ += bytes;
    return o;
  }
  Obj* AllocateSmall(size_t cls);
  void NewChunk(size_t cls);
  void Trace(Obj* o);
  // kept: room for every chunk, reserved before the sweep (it must not fail).
  void Sweep(std::vector<Chunk*>& kept);
  void ClearMarks();
  // How many emptied chunks a sweep keeps for reuse.
  size_t SpareLimit() const { return std::max<size_t>(16, chunks_.size() / 8); }
  void FreeObj(Obj* o);
  size_t ObjSize(Obj* o) const;

  std::vector<Chunk*> chunks_;
  std::vector<char*> spare_chunks_;  // emptied chunks' memory, kept for reuse
  Obj* free_lists_[kClasses + 1] = {};
  std::vector<Obj*> large_;
  std::vector<Obj*> gray_;

  std::unordered_map<std::string_view, Symbol*> symbols_;
  std::unordered_map<std::string_view, Keyword*> keywords_;

  Tracer tracers_[32] = {};
  Finalizer finalizers_[32] = {};
  RootMarker root_marker_;

  size_t bytes_since_gc_ = 0;  // objects allocated and vector growth since the last collection
  size_t vec_growth_ = 0;      // the vector growth part of it
  size_t released_ = 0;        // given back by Release since the last collection (and
                               // no longer counted in bytes_since_gc_)
  size_t threshold_ = 8u << 20;
  size_t fail_after_ = 0;
  bool fail_sticky_ = false;
  static constexpr size_t kReserveBytes = 4u << 20;
  void* reserve_ = nullptr;  // malloc'd, never touched: address space, not pages
  Stats stats_;
};

}  // namespace sx::interp
