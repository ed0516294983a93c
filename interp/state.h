// state.h — all the state of one interpreter, in one object.
//
// A State owns its heap (and so every value), the global bindings (kept on
// the interned symbols), the machine, and the output sink used by `print`.
// Nothing in interp/ is global: two States share nothing and may live on
// different threads, but one State is used by one thread at a time.
//
// This is the internal interface used by interp/*.cc. Embedders use sx.h.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "interp/heap.h"
#include "interp/native.h"
#include "interp/value.h"
#include "sx/sx.h"

namespace sx::interp {

class Machine;

// Where `print` and friends write. Default: stdout.
using OutputFn = std::function<void(std::string_view)>;

// The module loader and the bounds are the public types, kept as the host
// hands them over (Interpreter::SetModuleLoader, SetLimits). Inside:
// max_frames counts continuation frames; max_read_depth bounds the nesting
// of source text, read-string and serialize; max_macro_depth counts
// expansions within expansions, a macro call produced by the expansion of a
// call produced by ... (Node::index of a kMacroCall).
using ModuleLoader = sx::ModuleLoader;
using Limits = sx::Limits;

class State {
 public:
  State();
  ~State();
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  Heap heap;
  Limits limits;
  OutputFn output;
  ModuleLoader module_loader;
  std::vector<std::string> search_path;  // directories for `import`, from SX_PATH

  Machine& machine() { return *machine_; }

  // Moves on whenever a global is (re)defined; compiled code caches facts
  // about globals (e.g. "this operator is a plain native") per epoch.
  uint32_t global_epoch = 1;

  // Global bindings.
  void DefineGlobal(std::string_view name, Value v);
  Value GlobalValue(std::string_view name);  // Undefined when unbound
  void DefineNatives(const NativeSpec* table);
  Value MakeNative(const NativeSpec* spec, void* user = nullptr);

  // Extra roots held by C++ code across safe points (embedding handles).
  // Returns a slot index; release it with Unroot.
  size_t Root(Value v);
  void SetRoot(size_t slot, Value v) { roots_[slot] = v; }
  Value GetRoot(size_t slot) const { return roots_[slot]; }
  void Unroot(size_t slot);

  void Write(std::string_view s) { output(s); }

  // Source files named by the positions stamped on list cells (see
  // StampPositions): id 0 means no file. Ids are stable for the State's life.
  uint16_t FileId(std::string_view name);
  Value FileName(uint16_t id) const { return id < files_.size() ? files_[id] : Value::Nil(); }

  // Well-known symbols, interned once.
  struct Syms {
    Symbol *quote, *quasiquote, *unquote, *unquote_splicing, *if_, *when, *unless, *cond, *case_,
        *and_, *or_, *define, *set, *fn, *lambda, *let, *let_star, *letrec, *begin, *do_, *defmacro,
        *guard, *perform, *load, *import, *else_, *rest_marker, *dict;
  } sym{};
  Keyword* kw_else = nullptr;

 private:
  void MarkRoots(Heap& h);

  std::unique_ptr<Machine> machine_;
  std::vector<Value> roots_;
  std::vector<Value> files_{Value::Nil()};
  std::vector<size_t> free_roots_;
};

}  // namespace sx::interp
