// state.cc — construction of an interpreter: types, symbols, natives, prelude.
#include "interp/state.h"

#include <cstdio>

#include "interp/dict.h"
#include "interp/machine.h"

namespace sx::interp {

const char* PreludeSource();

State::State() {
  RegisterDictTypes(heap);
  RegisterMachineTypes(heap);
  heap.SetRootMarker([this](Heap& h) { MarkRoots(h); });
  output = [](std::string_view s) { std::fwrite(s.data(), 1, s.size(), stdout); };

  auto intern = [this](const char* name) { return heap.Intern(name); };
  sym.quote = intern("quote");
  sym.quasiquote = intern("quasiquote");
  sym.unquote = intern("unquote");
  sym.unquote_splicing = intern("unquote-splicing");
  sym.if_ = intern("if");
  sym.when = intern("when");
  sym.unless = intern("unless");
  sym.cond = intern("cond");
  sym.case_ = intern("case");
  sym.and_ = intern("and");
  sym.or_ = intern("or");
  sym.define = intern("define");
  sym.set = intern("set!");
  sym.fn = intern("fn");
  sym.lambda = intern("lambda");
  sym.let = intern("let");
  sym.let_star = intern("let*");
  sym.letrec = intern("letrec");
  sym.begin = intern("begin");
  sym.do_ = intern("do");
  sym.defmacro = intern("defmacro");
  sym.guard = intern("guard");
  sym.perform = intern("perform");
  sym.load = intern("load");
  sym.import = intern("import");
  sym.else_ = intern("else");
  sym.rest_marker = intern("&rest");
  sym.dict = intern("dict");
  kw_else = heap.InternKeyword("else");

  machine_ = std::make_unique<Machine>(*this);
  for (const NativeSpec* table : {NumberNatives(), ListNatives(), DictNatives(), StringNatives(),
                                  TypeNatives(), IoNatives()}) {
    DefineNatives(table);
  }
  machine_->InstallOps();

  RunResult r = machine_->RunToplevel(ParseSource(*this, PreludeSource(), "<prelude>"),
                                      heap.MakeString("<prelude>"));
  if (r.status != RunStatus::kDone) {
    std::fprintf(stderr, "sx: internal error in the prelude: %s\n",
                 machine_->FormatError(r.value).c_str());
    std::abort();
  }
}

State::~State() = default;

void State::DefineGlobal(std::string_view name, Value v) {
  heap.Intern(name)->global = v;
  global_epoch++;
}

Value State::GlobalValue(std::string_view name) { return heap.Intern(name)->global; }

Value State::MakeNative(const NativeSpec* spec, void* user) {
  Native* n = heap.New<Native>(ObjType::kNative);
  n->fn = spec->fn;
  n->spec = spec;
  n->user = user;
  return Value::Object(n);
}

void State::DefineNatives(const NativeSpec* table) {
  for (const NativeSpec* s = table; s != nullptr && s->name != nullptr; ++s) {
    DefineGlobal(s->name, MakeNative(s));
  }
}

size_t State::Root(Value v) {
  if (!free_roots_.empty()) {
    size_t slot = free_roots_.back();
    free_roots_.pop_back();
    roots_[slot] = v;
    return slot;
  }
  roots_.push_back(v);
  return roots_.size() - 1;
}

void State::Unroot(size_t slot) {
  roots_[slot] = Value::Nil();
  free_roots_.push_back(slot);
}

uint16_t State::FileId(std::string_view name) {
  for (size_t i = 1; i < files_.size(); ++i) {
    if (StringView(files_[i]) == name) return static_cast<uint16_t>(i);
  }
  if (files_.size() >= 0xFFFF) return 0;  // positions of further files go unnamed
  files_.push_back(heap.MakeString(name));
  return static_cast<uint16_t>(files_.size() - 1);
}

void State::MarkRoots(Heap& h) {
  for (Value v : roots_) h.Mark(v);
  for (Value v : files_) h.Mark(v);
  if (machine_) machine_->MarkRoots(h);
}

}  // namespace sx::interp
