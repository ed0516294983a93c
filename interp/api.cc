// api.cc — the embedding API (include/sx/sx.h) over the internal State.
//
// A public sx::Value is a slot in the State's root table: copying a handle
// takes a new slot, destroying it frees the slot, so whatever the host holds
// survives collections and nothing else is kept alive by the API.
#include <algorithm>
#include <new>

#include "interp/dict.h"
#include "interp/machine.h"
#include "interp/native.h"
#include "interp/printer.h"
#include "interp/reader.h"
#include "interp/state.h"
#include "sx/sx.h"

namespace sx {

using interp::State;
namespace ix = interp;

struct NativeBox {
  ix::NativeSpec spec;
  std::string name;
  std::string doc;
  NativeFunction fn;
  Interpreter* in;
};

namespace {

ix::Value Raw(uint64_t bits) { return ix::Value::FromBits(bits); }

void Require(bool ok, const char* what) {
  if (!ok) throw std::logic_error(std::string("sx::Value: ") + what);
}

}  // namespace

// --- Value -----------------------------------------------------------------------

Value::Value(Interpreter* owner, uint64_t bits) : owner_(owner) {
  slot_ = owner_->state_->Root(Raw(bits));
}

Value::Value(const Value& other) : owner_(other.owner_) {
  if (owner_) slot_ = owner_->state_->Root(Raw(other.bits()));
}

Value::Value(Value&& other) noexcept : owner_(other.owner_), slot_(other.slot_) {
  other.owner_ = nullptr;
}

Value& Value::operator=(const Value& other) {
  if (this == &other) return *this;
  if (owner_ && owner_ == other.owner_) {
    owner_->state_->SetRoot(slot_, Raw(other.bits()));
    return *this;
  }
  if (owner_) owner_->state_->Unroot(slot_);
  owner_ = other.owner_;
  if (owner_) slot_ = owner_->state_->Root(Raw(other.bits()));
  return *this;
}

Value& Value::operator=(Value&& other) noexcept {
  if (this == &other) return *this;
  if (owner_) owner_->state_->Unroot(slot_);
  owner_ = other.owner_;
  slot_ = other.slot_;
  other.owner_ = nullptr;
  return *this;
}

Value::~Value() {
  if (owner_) owner_->state_->Unroot(slot_);
}

uint64_t Value::bits() const {
  return owner_ ? owner_->state_->GetRoot(slot_).Bits() : ix::Value::Nil().Bits();
}

bool Value::IsNil() const { return Raw(bits()).IsNil(); }
bool Value::IsBool() const { return Raw(bits()).IsBool(); }
bool Value::IsInt() const { return ix::IsInt(Raw(bits())); }
bool Value::IsFloat() const { return Raw(bits()).IsFloat(); }
bool Value::IsString() const { return ix::IsString(Raw(bits())); }
bool Value::IsSymbol() const { return ix::IsSymbol(Raw(bits())); }
bool Value::IsKeyword() const { return ix::IsKeyword(Raw(bits())); }
bool Value::IsList() const { return ix::IsList(Raw(bits())); }
bool Value::IsDict() const { return ix::IsDict(Raw(bits())); }
bool Value::IsFunction() const { return ix::IsCallable(Raw(bits())); }
bool Value::IsError() const { return ix::IsError(Raw(bits())); }
bool Value::Truthy() const { return Raw(bits()).Truthy(); }

bool Value::AsBool() const {
  Require(IsBool(), "not a boolean");
  return Raw(bits()).IsTrue();
}

int64_t Value::AsInt() const {
  Require(IsInt(), "not an integer");
  return ix::AsInt(Raw(bits()));
}

double Value::AsDouble() const {
  Require(IsNumber(), "not a number");
  return ix::AsDouble(Raw(bits()));
}

std::string Value::AsString() const { return std::string(View()); }

std::string_view Value::View() const {
  ix::Value v = Raw(bits());
  if (ix::IsString(v)) return ix::StringView(v);
  if (ix::IsSymbol(v)) return ix::AsSymbol(v)->name->View();
  if (ix::IsKeyword(v)) return ix::AsKeyword(v)->name->View();
  Require(false, "not a string, symbol or keyword");
  return {};
}

std::vector<Value> Value::Items() const {
  Require(IsList(), "not a list");
  std::vector<Value> out;
  for (ix::Value p = Raw(bits()); ix::IsPair(p); p = ix::Cdr(p)) {
    out.push_back(Value(owner_, ix::Car(p).Bits()));
  }
  return out;
}

Value Value::Get(std::string_view key) const {
  Require(IsDict(), "not a dict");
  ix::Value r = ix::DictGetView(owner_->state_->heap, Raw(bits()), key);
  if (r.IsUndefined()) r = ix::Value::Nil();
  return Value(owner_, r.Bits());
}

std::vector<std::pair<std::string, Value>> Value::Entries() const {
  Require(IsDict(), "not a dict");
  std::vector<std::pair<std::string, Value>> out;
  for (auto& [k, v] : ix::DictEntriesSorted(Raw(bits()))) {
    out.emplace_back(std::string(k->View()), Value(owner_, v.Bits()));
  }
  return out;
}

std::string Value::ErrorMessage() const {
  Require(IsError(), "not an error");
  auto* e = static_cast<ix::ErrorObj*>(Raw(bits()).AsObj());
  return ix::IsString(e->message) ? std::string(ix::StringView(e->message))
                                  : ix::Inspect(*owner_->state_, e->message);
}

Value Value::ErrorData() const {
  Require(IsError(), "not an error");
  auto* e = static_cast<ix::ErrorObj*>(Raw(bits()).AsObj());
  return Value(owner_, e->data.Bits());
}

std::string Value::TypeName() const { return ix::TypeName(Raw(bits())); }

std::string Value::Inspect() const {
  if (!owner_) return "nil";
  return ix::Inspect(*owner_->state_, Raw(bits()));
}

std::string Value::Brief() const {
  if (!owner_) return "nil";
  return ix::Brief(*owner_->state_, Raw(bits()));
}

std::string Value::Display() const {
  if (!owner_) return "nil";
  return ix::Display(*owner_->state_, Raw(bits()));
}

// --- Interpreter --------------------------------------------------------------

Interpreter::Interpreter() : state_(std::make_unique<State>()) {}

// Parked fibers unwind their natives' frames, whose handles need the State.
Interpreter::~Interpreter() { state_->machine().DropFibers(); }

Value Interpreter::Wrap(uint64_t bits) { return Value(this, bits); }

Outcome Interpreter::MakeOutcome(int status, uint64_t bits) {
  Outcome o;
  auto st = static_cast<ix::RunStatus>(status);
  o.status = st == ix::RunStatus::kDone        ? Status::kDone
             : st == ix::RunStatus::kSuspended ? Status::kSuspended
                                               : Status::kError;
  try {
    o.value = Wrap(bits);
    if (o.status == Status::kSuspended) o.token = state_->machine().current_token();
    if (o.status == Status::kError) o.error_text = state_->machine().FormatError(Raw(bits));
  } catch (std::bad_alloc&) {
    if (o.status != Status::kSuspended) return OutOfMemoryOutcome();
    throw;  // a suspension must reach the host; the caller reports it
  }
  return o;
}

// Memory ran out outside the machine's loop (reading, setting up a run, or
// building the outcome): the error "out of memory", made without allocating
// on the heap.
Outcome Interpreter::OutOfMemoryOutcome() {
  Outcome o;
  o.status = Status::kError;
  ix::Value err = state_->machine().OutOfMemory();
  try {
    o.value = Wrap(err.Bits());
    o.error_text = "error: out of memory";
  } catch (std::bad_alloc&) {
  }
  return o;
}

Outcome Interpreter::Eval(std::string_view source, std::string_view filename) {
  State& S = *state_;
  ix::Value forms, name;
  size_t root;
  try {
    std::string file(filename);
    forms = ix::ParseSource(S, source, file);
    name = S.heap.MakeString(file);  // no collection before the run: forms is safe
    root = S.Root(forms);
  } catch (ix::SxThrow& e) {
    return MakeOutcome(static_cast<int>(ix::RunStatus::kError), e.value.Bits());
  } catch (std::bad_alloc&) {
    return OutOfMemoryOutcome();
  }
  ix::RunResult r = S.machine().RunToplevel(forms, name);
  S.Unroot(root);
  return MakeOutcome(static_cast<int>(r.status), r.value.Bits());
}

Outcome Interpreter::EvalForm(const Value& form, std::string_view filename) {
  State& S = *state_;
  ix::Value forms, name;
  size_t root;
  try {
    forms = S.heap.Cons(Raw(form.bits()), ix::Value::EmptyList());
    name = S.heap.MakeString(filename);
    root = S.Root(forms);
  } catch (std::bad_alloc&) {
    return OutOfMemoryOutcome();
  }
  ix::RunResult r = S.machine().RunToplevel(forms, name);
  S.Unroot(root);
  return MakeOutcome(static_cast<int>(r.status), r.value.Bits());
}

Outcome Interpreter::EvalFile(const std::string& path) {
  std::string text, why;
  if (!ix::ReadSourceFile(path, &text, &why)) {
    std::string message = "cannot read " + path + ": " + why;
    Outcome o = MakeOutcome(static_cast<int>(ix::RunStatus::kError), MakeError(message).bits());
    o.error_text = "error: " + message;
    return o;
  }
  return Eval(text, path);
}

Outcome Interpreter::Call(const Value& fn, std::span<const Value> args) {
  std::vector<ix::Value> raw;
  try {
    raw.reserve(args.size());
  } catch (std::bad_alloc&) {
    return OutOfMemoryOutcome();
  }
  for (const Value& a : args) raw.push_back(Raw(a.bits()));
  ix::RunResult r = state_->machine().Call(Raw(fn.bits()), raw.data(), raw.size());
  return MakeOutcome(static_cast<int>(r.status), r.value.Bits());
}

Outcome Interpreter::Resume(const Value& answer) {
  ix::RunResult r = state_->machine().Resume(Raw(answer.bits()));
  return MakeOutcome(static_cast<int>(r.status), r.value.Bits());
}

Outcome Interpreter::ResumeError(std::string_view message, const Value& data) {
  ix::Value err;
  try {
    err = Raw(MakeError(message, data).bits());
  } catch (std::bad_alloc&) {
    err = state_->machine().OutOfMemory();  // raised in its place
  }
  ix::RunResult r = state_->machine().ResumeError(err);
  return MakeOutcome(static_cast<int>(r.status), r.value.Bits());
}

bool Interpreter::suspended() const { return state_->machine().suspended(); }

uint64_t Interpreter::stale_resumes() const { return state_->machine().stale_resumes(); }

Outcome Interpreter::StaleToken(uint64_t token) {
  state_->machine().CountStale();
  Outcome o;
  o.status = Status::kError;
  std::string msg = "resume: stale token " + std::to_string(token) +
                    " (already resumed, cancelled, or not issued); nothing was resumed";
  o.value = MakeError(msg);
  o.error_text = "error: " + msg;
  return o;
}

Outcome Interpreter::Resume(uint64_t token, const Value& answer) {
  if (token == 0 || token != state_->machine().current_token()) return StaleToken(token);
  return Resume(answer);
}

Outcome Interpreter::ResumeError(uint64_t token, std::string_view message, const Value& data) {
  if (token == 0 || token != state_->machine().current_token()) return StaleToken(token);
  return ResumeError(message, data);
}

Value Interpreter::CallBack(const Value& fn, std::span<const Value> args) {
  std::vector<ix::Value> raw;
  raw.reserve(args.size());
  for (const Value& a : args) raw.push_back(Raw(a.bits()));
  ix::RunResult r = state_->machine().CallBack(Raw(fn.bits()), raw.data(), raw.size());
  Value v = Wrap(r.value.Bits());
  if (r.status == ix::RunStatus::kDone) return v;
  std::string message = v.IsError() ? v.ErrorMessage() : "raised " + v.Inspect();
  throw Error(message, v.IsError() ? v.ErrorData() : Value(), v);
}

void Interpreter::AddIoHandler(IoHandler handler) { handlers_.push_back(std::move(handler)); }

void Interpreter::AddBatchIoHandler(BatchIoHandler handler) {
  batch_handlers_.push_back(std::move(handler));
}

void Interpreter::SetIoPoller(IoPoller poller) { poller_ = std::move(poller); }

// Calls an embedder's native: arguments become rooted handles, sx::Error
// becomes an SX error, and any other C++ exception is reported as one too.
ix::Value Interpreter::NativeEntry(const ix::Args& a) {
  auto* box = static_cast<NativeBox*>(a.user);
  Interpreter& in = *box->in;
  std::vector<Value> args;
  args.reserve(a.n);
  for (int i = 0; i < a.n; ++i) args.push_back(in.Wrap(a.v[i].Bits()));
  std::string message;
  ix::Value data = ix::Value::Nil();
  try {
    Value r = box->fn(in, args);
    return Raw(r.bits());
  } catch (const Error& e) {
    if (e.raised().owner() == &in) throw ix::SxThrow{Raw(e.raised().bits())};
    message = e.what();
    data = Raw(e.data().bits());
  } catch (const std::bad_alloc&) {
    throw;  // the machine raises "out of memory"
  } catch (const std::exception& e) {
    message = box->name + ": " + e.what();
  }
  ix::ThrowError(a.S, message, data);
}

void Interpreter::DefineNative(std::string name, int min_args, int max_args, std::string doc,
                               NativeFunction fn, NativeOptions options) {
  auto box = std::make_unique<NativeBox>();
  box->name = std::move(name);
  box->doc = std::move(doc);
  box->fn = std::move(fn);
  box->in = this;
  box->spec = ix::NativeSpec{box->name.c_str(),         min_args,         max_args,
                             &Interpreter::NativeEntry, box->doc.c_str(), 0};
  ix::Value v = state_->MakeNative(&box->spec, box.get());
  if (options.calls_back) v.AsObj()->aux = static_cast<uint32_t>(ix::MachineOp::kFiberNative);
  state_->DefineGlobal(box->name, v);
  natives_.push_back(std::move(box));
}

void Interpreter::Define(std::string_view name, const Value& v) {
  state_->DefineGlobal(name, Raw(v.bits()));
}

Value Interpreter::Global(std::string_view name) {
  ix::Value v = state_->GlobalValue(name);
  return Wrap(v.IsUndefined() ? ix::Value::Nil().Bits() : v.Bits());
}

bool Interpreter::IsBound(std::string_view name) {
  return !state_->GlobalValue(name).IsUndefined();
}

std::vector<std::string> Interpreter::GlobalNames() {
  std::vector<std::string> names;
  state_->heap.ForEachSymbol([&](ix::Symbol* s) {
    if (!s->global.IsUndefined()) names.emplace_back(s->name->View());
  });
  std::sort(names.begin(), names.end());
  return names;
}

std::string Interpreter::Doc(std::string_view name) {
  ix::Value v = state_->GlobalValue(name);
  if (ix::IsType(v, ix::ObjType::kNative)) {
    const char* d = static_cast<ix::Native*>(v.AsObj())->spec->doc;
    return d ? d : "";
  }
  if (ix::IsType(v, ix::ObjType::kMacro)) v = static_cast<ix::Macro*>(v.AsObj())->fn;
  if (ix::IsType(v, ix::ObjType::kClosure)) {
    ix::Value doc = static_cast<ix::Closure*>(v.AsObj())->proto->doc;
    if (ix::IsString(doc)) return std::string(ix::StringView(doc));
  }
  return "";
}

void Interpreter::SetOutput(std::function<void(std::string_view)> out) {
  state_->output = std::move(out);
}

void Interpreter::SetModuleLoader(ModuleLoader loader) {
  state_->module_loader = std::move(loader);
}

void Interpreter::AddSearchPath(std::string dir) { state_->search_path.push_back(std::move(dir)); }

void Interpreter::SetLimits(const Limits& limits) { state_->limits = limits; }

Limits Interpreter::GetLimits() const {
  Limits l;
  l.max_frames = state_->limits.max_frames;
  l.max_read_depth = state_->limits.max_read_depth;
  l.max_macro_depth = state_->limits.max_macro_depth;
  return l;
}

void Interpreter::Interrupt() { state_->machine().Interrupt(); }

Value Interpreter::Nil() { return Wrap(ix::Value::Nil().Bits()); }
Value Interpreter::Bool(bool b) { return Wrap(ix::Value::Bool(b).Bits()); }
Value Interpreter::Int(int64_t n) { return Wrap(state_->heap.MakeInt(n).Bits()); }
Value Interpreter::Float(double d) { return Wrap(ix::Value::Float(d).Bits()); }
Value Interpreter::String(std::string_view s) { return Wrap(state_->heap.MakeString(s).Bits()); }
Value Interpreter::Symbol(std::string_view name) {
  return Wrap(ix::Value::Object(state_->heap.Intern(name)).Bits());
}
Value Interpreter::Keyword(std::string_view name) {
  return Wrap(ix::Value::Object(state_->heap.InternKeyword(name)).Bits());
}

Value Interpreter::List(std::span<const Value> items) {
  std::vector<ix::Value> raw;
  raw.reserve(items.size());
  for (const Value& v : items) raw.push_back(Raw(v.bits()));
  return Wrap(state_->heap.ListFrom(raw.data(), raw.size()).Bits());
}

Value Interpreter::Dict(std::span<const std::pair<std::string, Value>> entries) {
  ix::Value d = ix::DictEmpty(state_->heap);
  for (const auto& [k, v] : entries) {
    ix::Value key = state_->heap.MakeString(k);
    d = ix::DictAssoc(state_->heap, d, ix::AsString(key), Raw(v.bits()));
  }
  return Wrap(d.Bits());
}

Value Interpreter::Assoc(const Value& dict, std::string_view key, const Value& v) {
  ix::Value d = Raw(dict.bits());
  if (!ix::IsDict(d)) d = ix::DictEmpty(state_->heap);
  ix::Value k = state_->heap.MakeString(key);
  return Wrap(ix::DictAssoc(state_->heap, d, ix::AsString(k), Raw(v.bits())).Bits());
}

Value Interpreter::MakeError(std::string_view message, const Value& data) {
  return Wrap(state_->heap.MakeError(state_->heap.MakeString(message), Raw(data.bits())).Bits());
}

bool Interpreter::Serialize(const Value& v, std::string* text, std::string* error) {
  return ix::Serialize(*state_, Raw(v.bits()), text, error);
}

bool Interpreter::Deserialize(std::string_view text, Value* out, std::string* error) {
  try {
    *out = Wrap(ix::ReadString(*state_, text).Bits());
    return true;
  } catch (ix::SxThrow& e) {
    *error = ix::IsError(e.value) ? Wrap(e.value.Bits()).ErrorMessage() : "bad text";
    return false;
  }
}

Interpreter::HeapStats Interpreter::heap_stats() const {
  const auto& s = state_->heap.stats();
  return HeapStats{s.collections, s.live_bytes, s.allocated_bytes};
}

// --- Parser ------------------------------------------------------------------------

struct Parser::Impl {
  Interpreter& in;
  std::unique_ptr<ix::Reader> reader;
};

Parser::Parser(Interpreter& in, std::string filename)
    : impl_(new Impl{in, std::make_unique<ix::Reader>(*in.state_, std::move(filename))}) {}

Parser::~Parser() = default;

void Parser::Feed(std::string_view text) { impl_->reader->Feed(text); }

void Parser::Finish() { impl_->reader->Finish(); }

bool Parser::NeedsMore() const { return !impl_->reader->AtTopLevel(); }

Parser::Result Parser::Next(Value* form, std::string* error) {
  ix::Value v;
  switch (impl_->reader->Next(&v)) {
    case ix::Reader::Status::kValue:
      ix::StampPositions(*impl_->in.state_, *impl_->reader);
      impl_->reader->ClearPositions();
      *form = impl_->in.Wrap(v.Bits());
      return Result::kForm;
    case ix::Reader::Status::kNeedMore:
      return Result::kNeedMore;
    case ix::Reader::Status::kEnd:
      return Result::kEnd;
    case ix::Reader::Status::kError: {
      const ix::ReadError& e = impl_->reader->error();
      *error = impl_->reader->filename() + ":" + std::to_string(e.pos.line) + ":" +
               std::to_string(e.pos.col) + ": " + e.message;
      return Result::kError;
    }
  }
  return Result::kError;
}

// --- ValueBuilder -----------------------------------------------------------------
//
// Raw values on a vector: nothing collects while the builder is in use (the
// heap collects only at the machine's safe points, and no SX code runs), so
// the parts need no roots until Take wraps one.

struct ValueBuilder::Impl {
  Interpreter& in;
  ix::Heap& heap;
  std::vector<ix::Value> parts;
  // Dict keys made so far. Decoded data repeats a few keys (those of one
  // event shape), so a short list scanned from the front finds them sooner
  // than hashing would; past kMaxKeys a key is made afresh.
  static constexpr size_t kMaxKeys = 32;
  std::vector<ix::String*> keys;
};

ValueBuilder::ValueBuilder(Interpreter& in)
    : impl_(std::make_unique<Impl>(Impl{in, in.state_->heap, {}, {}})) {}
ValueBuilder::~ValueBuilder() = default;

void ValueBuilder::Nil() { impl_->parts.push_back(ix::Value::Nil()); }
void ValueBuilder::Bool(bool b) { impl_->parts.push_back(ix::Value::Bool(b)); }
void ValueBuilder::Int(int64_t n) { impl_->parts.push_back(impl_->heap.MakeInt(n)); }
void ValueBuilder::Float(double d) { impl_->parts.push_back(ix::Value::Float(d)); }
void ValueBuilder::String(std::string_view s) { impl_->parts.push_back(impl_->heap.MakeString(s)); }
void ValueBuilder::Symbol(std::string_view name) {
  impl_->parts.push_back(ix::Value::Object(impl_->heap.Intern(name)));
}
void ValueBuilder::Keyword(std::string_view name) {
  impl_->parts.push_back(ix::Value::Object(impl_->heap.InternKeyword(name)));
}
void ValueBuilder::Push(const Value& v) { impl_->parts.push_back(Raw(v.bits())); }

void ValueBuilder::Key(std::string_view key) {
  for (ix::String* k : impl_->keys) {
    if (k->View() == key) {
      impl_->parts.push_back(ix::Value::Object(k));
      return;
    }
  }
  ix::Value k = impl_->heap.MakeString(key);
  if (impl_->keys.size() < Impl::kMaxKeys) impl_->keys.push_back(ix::AsString(k));
  impl_->parts.push_back(k);
}

void ValueBuilder::List(size_t n) {
  auto& p = impl_->parts;
  Require(n <= p.size(), "ValueBuilder::List: too few parts");
  ix::Value list = impl_->heap.ListFrom(p.data() + (p.size() - n), n);
  p.resize(p.size() - n);
  p.push_back(list);
}

void ValueBuilder::Dict(size_t n) {
  auto& p = impl_->parts;
  Require(2 * n <= p.size(), "ValueBuilder::Dict: too few parts");
  size_t base = p.size() - 2 * n;
  ix::Value d = ix::DictEmpty(impl_->heap);
  for (size_t i = base; i < p.size(); i += 2) {
    Require(ix::IsString(p[i]), "ValueBuilder::Dict: a key must come from Key");
    d = ix::DictAssocTransient(impl_->heap, d, ix::AsString(p[i]), p[i + 1]);
  }
  ix::DictFreeze(d);
  p.resize(base);
  p.push_back(d);
}

size_t ValueBuilder::size() const { return impl_->parts.size(); }

Value ValueBuilder::Take() {
  Require(!impl_->parts.empty(), "ValueBuilder::Take: no part");
  Value v = impl_->in.Wrap(impl_->parts.back().Bits());
  impl_->parts.pop_back();
  return v;
}

void ValueBuilder::Clear() { impl_->parts.clear(); }

const char* Version() { return "0.1.0"; }

}  // namespace sx
