// compiler.cc — source forms to Nodes.
//
// Variables are resolved once, here: a name bound by an enclosing function or
// `let` becomes (depth, slot); anything else is a global looked up through its
// symbol. `let`, `letrec` and internal `define`s take slots in the frame of
// the function they appear in, so entering a `let` allocates nothing at run
// time. Because there is no loop form (loops are calls), a `let` runs at most
// once per activation and closures can safely capture those slots.
//
// A call whose head names a macro becomes a kMacroCall node that keeps its
// scope: the machine expands it the first time it runs (so the macro body may
// `perform`) and compiles the expansion here, in that scope.
#include <string>

#include "interp/dict.h"
#include "interp/machine.h"
#include "interp/state.h"

namespace sx::interp {

namespace {

constexpr int kMaxCompileDepth = 1000;
constexpr int kMaxSimpleDepth = 4;

// --- accumulator analysis ----------------------------------------------------
//
// A function whose first parameter is an accumulator it only ever hands on,
// as in (fn (acc x) (assoc acc x 1)), lets reduce update a dict in place
// (Proto::consumes_acc). These helpers decide that from the compiled body.

bool IsAccSlot(const Node* n) { return n->depth == 0 && n->index == 0; }

// Might the code read or write the first parameter's slot? A lambda might
// capture the frame and a macro call is compiled later, so both count.
bool TouchesAcc(const Node* n) {
  if (n == nullptr) return false;
  switch (n->kind) {
    case NodeKind::kParam:
    case NodeKind::kLocal:
    case NodeKind::kSetLocal:
    case NodeKind::kReraise:
      if (IsAccSlot(n)) return true;
      break;
    case NodeKind::kLambda:
    case NodeKind::kMacroCall:
    case NodeKind::kDefMacro:
    case NodeKind::kLoad:
    case NodeKind::kImport:
      return true;
    case NodeKind::kCall:
      if (n->flags & kMaybeMacro) return true;
      break;
    default:
      break;
  }
  if (TouchesAcc(n->a) || TouchesAcc(n->b) || TouchesAcc(n->c)) return true;
  for (uint32_t i = 0; i < n->nkids; ++i) {
    if (TouchesAcc(n->kids[i])) return true;
  }
  return false;
}

// Is every use of the first parameter in `n` either returning it from a tail
// position or passing it as the dict of a tail call of `assoc`, whose
// operands do not touch it? With `mark`, such calls are flagged
// kAccConsumer; the machine checks at run time that `assoc` is still the
// builtin.
bool ConsumesAcc(Node* n, bool tail, bool mark) {
  if (!TouchesAcc(n)) return true;
  switch (n->kind) {
    case NodeKind::kParam:
      return tail && IsAccSlot(n);
    case NodeKind::kIf:
      return !TouchesAcc(n->a) && ConsumesAcc(n->b, tail, mark) && ConsumesAcc(n->c, tail, mark);
    case NodeKind::kSeq:
      for (uint32_t i = 0; i + 1 < n->nkids; ++i) {
        if (TouchesAcc(n->kids[i])) return false;
      }
      return ConsumesAcc(n->kids[n->nkids - 1], tail, mark);
    case NodeKind::kCall: {
      if (!tail || (n->flags & kMaybeMacro) || n->nkids < 4) return false;
      Node* head = n->kids[0];
      Node* dict = n->kids[1];
      if (head->kind != NodeKind::kGlobal || AsSymbol(head->value)->name->View() != "assoc") {
        return false;
      }
      if (dict->kind != NodeKind::kParam || !IsAccSlot(dict)) return false;
      for (uint32_t i = 2; i < n->nkids; ++i) {
        if (TouchesAcc(n->kids[i])) return false;
      }
      if (mark) n->flags |= kAccConsumer;
      return true;
    }
    default:
      return false;
  }
}

class Compiler {
 public:
  Compiler(State& S, Value file, Proto* proto) : S_(S), file_(file), proto_(proto) {
    SetFile(file);
  }

  Node* Compile(Value form, Scope* scope, bool tail);
  // Compiles the element a list cell holds; a symbol is placed where the
  // reader found it.
  Node* CompileAt(Value cell, Scope* scope, bool tail);
  Node* CompileBody(Value body, Scope* scope, bool tail);
  Scope* Boundary(Proto* proto, Scope* next);
  void SetPos(uint32_t line, uint32_t col) {
    line_ = line;
    col_ = col;
  }

 private:
  // Forms.
  Node* CompileSymbol(Symbol* sym, Scope* scope);
  Node* VariableNode(Symbol* sym, Scope* scope, NodeKind local, NodeKind global);
  Node* CompileList(Value form, Scope* scope, bool tail);
  Node* CompileCall(Value form, Scope* scope, bool tail);
  Node* CompileDict(Value dict, Scope* scope);
  Node* DictLitNode(const std::vector<std::pair<String*, Value>>& entries,
                    const std::vector<Node*>& nodes);
  Node* CompileQuote(Value args);
  Node* CompileQuasi(Value x, int depth, Scope* scope);
  Node* CompileIf(Value args, Scope* scope, bool tail);
  Node* CompileWhen(Value args, Scope* scope, bool tail, bool negate);
  Node* CompileCond(Value clauses, Scope* scope, bool tail, Node* fallback);
  Node* CompileCase(Value args, Scope* scope, bool tail);
  Node* CompileAndOr(NodeKind kind, Value args, Scope* scope, bool tail);
  Node* CompileDefine(Value args, Scope* scope);
  Node* CompileSet(Value args, Scope* scope);
  Node* CompileLambda(Value params, Value body, Scope* scope, Value name);
  Node* CompileNamed(Value expr, Scope* scope, Value name);
  Node* CompileLet(Value args, Scope* scope, bool tail, bool rec);
  Node* CompileNamedLet(Value args, Scope* scope, bool tail);
  Node* CompileDefmacro(Value args, Scope* scope);
  Node* CompileGuard(Value args, Scope* scope, bool tail);
  Node* CompileSeq(Value forms, Scope* scope, bool tail);

  // Helpers.
  Node* NewNode(NodeKind kind, uint32_t nkids = 0);
  Node* Const(Value v) {
    Node* n = NewNode(NodeKind::kConst);
    n->value = v;
    n->flags |= kSimpleNode;
    return n;
  }
  Node* Seq(std::vector<Node*>& kids);
  Scope* Bind(Scope* scope, Symbol* name, uint32_t slot);
  uint32_t AllocSlot(Scope* scope);
  bool Lookup(Scope* scope, Symbol* sym, uint16_t* depth, uint32_t* slot);
  bool LookupHere(Scope* scope, Symbol* sym, uint32_t* slot);
  bool IsParamSlot(Scope* scope, uint16_t depth, uint32_t slot);
  static bool IsToplevel(Scope* scope) { return scope->name == nullptr && scope->next == nullptr; }
  void PrescanDefines(Value body, Scope** scope);
  int SimpleDepth(Node* n);
  void MarkSimple(Node* call);
  Value NativeValue(const char* name);

  [[noreturn]] void Fail(const std::string& message);
  size_t Length(Value list);
  Value Nth(Value list, size_t i);
  Value NthCell(Value list, size_t i);

  // The file code comes from, and whether it is a library module's.
  void SetFile(Value file) {
    file_ = file;
    lib_ = IsLibraryFile(file);
  }

  State& S_;
  Value file_;
  Proto* proto_;  // the function being compiled
  bool lib_ = false;
  uint32_t line_ = 0;
  uint32_t col_ = 0;
  int depth_ = 0;

 public:
  // In a macro expansion, lists that came from another file (the macro's
  // template) report the call site instead of their own place.
  uint16_t expansion_file_ = 0;
  uint32_t macro_depth_ = 0;  // given to the macro calls compiled (kMacroCall's index)
};

void Compiler::Fail(const std::string& message) {
  std::string where;
  if (IsString(file_)) where = std::string(StringView(file_));
  where += ":" + std::to_string(line_) + ":" + std::to_string(col_);
  Value err = S_.heap.MakeError(S_.heap.MakeString(message), Value::Nil());
  static_cast<ErrorObj*>(err.AsObj())->trace =
      S_.heap.Cons(S_.heap.MakeString(where), Value::EmptyList());
  throw SxThrow{err};
}

size_t Compiler::Length(Value list) {
  size_t n = 0;
  for (; IsPair(list); list = Cdr(list)) ++n;
  return n;
}

Value Compiler::Nth(Value list, size_t i) {
  while (i-- > 0 && IsPair(list)) list = Cdr(list);
  return IsPair(list) ? Car(list) : Value::Nil();
}

Value Compiler::NthCell(Value list, size_t i) {
  while (i-- > 0 && IsPair(list)) list = Cdr(list);
  return list;
}

Node* Compiler::NewNode(NodeKind kind, uint32_t nkids) {
  size_t extra = nkids > 1 ? (nkids - 1) * sizeof(Node*) : 0;
  Node* n = S_.heap.New<Node>(ObjType::kNode, extra);
  n->kind = kind;
  n->line = line_;
  n->col = col_;
  n->file = file_;
  n->fn = proto_;
  if (lib_) n->flags |= kLibNode;
  n->value = Value::Nil();
  n->nkids = nkids;
  return n;
}

Node* Compiler::Seq(std::vector<Node*>& kids) {
  if (kids.empty()) return Const(Value::Nil());
  if (kids.size() == 1) return kids[0];
  Node* n = NewNode(NodeKind::kSeq, static_cast<uint32_t>(kids.size()));
  for (size_t i = 0; i < kids.size(); ++i) n->kids[i] = kids[i];
  return n;
}

Scope* Compiler::Boundary(Proto* proto, Scope* next) {
  Scope* s = S_.heap.New<Scope>(ObjType::kScope);
  s->next = next;
  s->name = nullptr;
  s->proto = proto;
  return s;
}

Scope* Compiler::Bind(Scope* scope, Symbol* name, uint32_t slot) {
  Scope* s = S_.heap.New<Scope>(ObjType::kScope);
  s->next = scope;
  s->name = name;
  s->slot = slot;
  return s;
}

uint32_t Compiler::AllocSlot(Scope* scope) {
  Scope* s = scope;
  while (s->name != nullptr) s = s->next;
  return s->proto->frame_size++;
}

bool Compiler::Lookup(Scope* scope, Symbol* sym, uint16_t* depth, uint32_t* slot) {
  uint16_t d = 0;
  for (Scope* s = scope; s != nullptr; s = s->next) {
    if (s->name == nullptr) {
      ++d;
      continue;
    }
    if (s->name == sym) {
      *depth = d;
      *slot = s->slot;
      return true;
    }
  }
  return false;
}

bool Compiler::LookupHere(Scope* scope, Symbol* sym, uint32_t* slot) {
  for (Scope* s = scope; s != nullptr && s->name != nullptr; s = s->next) {
    if (s->name == sym) {
      *slot = s->slot;
      return true;
    }
  }
  return false;
}

Value Compiler::NativeValue(const char* name) {
  Value v = S_.GlobalValue(name);
  if (v.IsUndefined()) Fail(std::string("internal: missing native ") + name);
  return v;
}

// --- dispatch -----------------------------------------------------------------

Node* Compiler::Compile(Value form, Scope* scope, bool tail) {
  if (IsSymbol(form)) return CompileSymbol(AsSymbol(form), scope);
  if (IsPair(form)) {
    if (++depth_ > kMaxCompileDepth) {
      Fail("expression nested too deeply (more than " + std::to_string(kMaxCompileDepth) +
           " levels)");
    }
    uint32_t line = line_, col = col_;
    Value file = file_;
    Pair* p = AsPair(form);
    if (p->aux != 0 && (expansion_file_ == 0 || p->flags == expansion_file_)) {
      SetPos(PosLine(p), PosCol(p));
      if (p->flags != 0) SetFile(S_.FileName(p->flags));
    }
    Node* n = CompileList(form, scope, tail);
    SetPos(line, col);
    SetFile(file);
    --depth_;
    return n;
  }
  if (IsDict(form)) return CompileDict(form, scope);
  return Const(form);
}

Node* Compiler::CompileAt(Value cell, Scope* scope, bool tail) {
  if (!IsPair(cell)) return Compile(Value::Nil(), scope, tail);
  Value form = Car(cell);
  const Pair* p = AsPair(cell);
  if (!IsSymbol(form) || p->aux == 0 || (expansion_file_ != 0 && p->flags != expansion_file_)) {
    return Compile(form, scope, tail);
  }
  uint32_t line = line_, col = col_;
  Value file = file_;
  SetPos(PosLine(p), PosCol(p));
  if (p->flags != 0) SetFile(S_.FileName(p->flags));
  Node* n = CompileSymbol(AsSymbol(form), scope);
  SetPos(line, col);
  SetFile(file);
  return n;
}

// A node naming `sym`: `local` with its (depth, slot) when a scope binds
// it, else `global`.
Node* Compiler::VariableNode(Symbol* sym, Scope* scope, NodeKind local, NodeKind global) {
  uint16_t depth;
  uint32_t slot;
  Node* n;
  if (Lookup(scope, sym, &depth, &slot)) {
    n = NewNode(local);
    n->depth = depth;
    n->index = slot;
  } else {
    n = NewNode(global);
  }
  n->value = Value::Object(sym);
  return n;
}

Node* Compiler::CompileSymbol(Symbol* sym, Scope* scope) {
  Node* n = VariableNode(sym, scope, NodeKind::kLocal, NodeKind::kGlobal);
  if (n->kind == NodeKind::kLocal && IsParamSlot(scope, n->depth, n->index)) {
    n->kind = NodeKind::kParam;
  }
  n->flags |= kSimpleNode;
  return n;
}

// Is slot `slot` of the frame `depth` boundaries out a parameter? Every call
// fills its parameters (the rest list included) before the body runs, and
// nothing ever unbinds them, so reading one needs no checks.
bool Compiler::IsParamSlot(Scope* scope, uint16_t depth, uint32_t slot) {
  for (Scope* s = scope; s != nullptr; s = s->next) {
    if (s->name != nullptr) continue;
    if (depth-- == 0) {
      Proto* p = s->proto;
      return p != nullptr && slot < p->nparams + (p->has_rest ? 1 : 0);
    }
  }
  return false;
}

Node* Compiler::CompileList(Value form, Scope* scope, bool tail) {
  Value head = Car(form);
  Value args = Cdr(form);
  if (IsSymbol(head)) {
    Symbol* h = AsSymbol(head);
    const auto& sym = S_.sym;
    uint16_t d;
    uint32_t sl;
    bool shadowed = Lookup(scope, h, &d, &sl);
    if (!shadowed) {
      if (h == sym.quote) return CompileQuote(args);
      if (h == sym.quasiquote) {
        if (Length(args) != 1) Fail("quasiquote: expected one form");
        return CompileQuasi(Car(args), 0, scope);
      }
      if (h == sym.unquote || h == sym.unquote_splicing) {
        Fail(Brief(S_, Value::Object(h)) + ": not inside a quasiquote");
      }
      if (h == sym.if_) return CompileIf(args, scope, tail);
      if (h == sym.when) return CompileWhen(args, scope, tail, false);
      if (h == sym.unless) return CompileWhen(args, scope, tail, true);
      if (h == sym.cond) return CompileCond(args, scope, tail, nullptr);
      if (h == sym.case_) return CompileCase(args, scope, tail);
      if (h == sym.and_) return CompileAndOr(NodeKind::kAnd, args, scope, tail);
      if (h == sym.or_) return CompileAndOr(NodeKind::kOr, args, scope, tail);
      if (h == sym.define) return CompileDefine(args, scope);
      if (h == sym.set) return CompileSet(args, scope);
      if (h == sym.fn || h == sym.lambda) {
        if (!IsPair(args)) Fail(Brief(S_, Value::Object(h)) + ": expected parameters and body");
        return CompileLambda(Car(args), Cdr(args), scope, Value::Nil());
      }
      if (h == sym.let || h == sym.let_star) {
        if (IsPair(args) && IsSymbol(Car(args))) return CompileNamedLet(args, scope, tail);
        return CompileLet(args, scope, tail, false);
      }
      if (h == sym.letrec) return CompileLet(args, scope, tail, true);
      if (h == sym.begin || h == sym.do_) return CompileSeq(args, scope, tail);
      if (h == sym.defmacro) return CompileDefmacro(args, scope);
      if (h == sym.guard) return CompileGuard(args, scope, tail);
      if (h == sym.perform) {
        if (Length(args) != 1) Fail("perform: expected one request");
        Node* n = NewNode(NodeKind::kPerform);
        n->a = Compile(Car(args), scope, false);
        return n;
      }
      if (h == sym.load) {
        if (Length(args) != 1) Fail("load: expected one path");
        Node* n = NewNode(NodeKind::kLoad);
        n->a = Compile(Car(args), scope, false);
        return n;
      }
      if (h == sym.import) {
        if (Length(args) != 1) Fail("import: expected one module name");
        Value m = Car(args);
        if (IsSymbol(m)) m = Value::Object(AsSymbol(m)->name);
        if (!IsString(m)) Fail("import: the module name must be a symbol or string");
        Node* n = NewNode(NodeKind::kImport);
        n->value = m;
        return n;
      }
      Value g = h->global;
      if (IsType(g, ObjType::kMacro)) {
        Node* n = NewNode(NodeKind::kMacroCall);
        n->value = form;
        n->extra = scope;
        n->index = macro_depth_;
        if (tail) n->flags |= kTailCall;
        return n;
      }
    }
  }
  return CompileCall(form, scope, tail);
}

// --- calls ----------------------------------------------------------------------

int Compiler::SimpleDepth(Node* n) {
  if (!(n->flags & kSimpleNode)) return 1000;
  if (n->kind != NodeKind::kCall) return 0;
  int d = 0;
  for (uint32_t i = 1; i < n->nkids; ++i) d = std::max(d, SimpleDepth(n->kids[i]));
  return d + 1;
}

void Compiler::MarkSimple(Node* call) {
  if (call->kids[0]->kind != NodeKind::kGlobal) return;
  int d = 0;
  for (uint32_t i = 1; i < call->nkids; ++i) {
    Node* k = call->kids[i];
    if (!(k->flags & kSimpleNode)) return;
    d = std::max(d, SimpleDepth(k));
  }
  if (d + 1 <= kMaxSimpleDepth) call->flags |= kSimpleNode;
}

Node* Compiler::CompileCall(Value form, Scope* scope, bool tail) {
  size_t n = Length(form);
  Node* call = NewNode(NodeKind::kCall, static_cast<uint32_t>(n));
  size_t i = 0;
  for (Value p = form; IsPair(p); p = Cdr(p)) call->kids[i++] = CompileAt(p, scope, false);
  MarkSimple(call);
  if (tail) call->flags |= kTailCall;
  Value head = Car(form);
  uint16_t depth;
  uint32_t slot;
  if (IsSymbol(head) && AsSymbol(head)->global.IsUndefined() &&
      !Lookup(scope, AsSymbol(head), &depth, &slot)) {
    call->flags |= kMaybeMacro;
    call->value = form;
    call->extra = scope;
    call->index = macro_depth_;
  }
  return call;
}

Node* Compiler::CompileDict(Value dict, Scope* scope) {
  auto entries = DictEntriesSorted(dict);
  std::vector<Node*> nodes;
  bool all_const = true;
  for (auto& [k, v] : entries) {
    Node* n = Compile(v, scope, false);
    if (n->kind != NodeKind::kConst) all_const = false;
    nodes.push_back(n);
  }
  if (all_const) {
    Value d = DictEmpty(S_.heap);
    for (size_t i = 0; i < entries.size(); ++i) {
      d = DictAssoc(S_.heap, d, entries[i].first, nodes[i]->value);
    }
    return Const(d);
  }
  return DictLitNode(entries, nodes);
}

// A dict literal evaluated at run time: the keys in order, one value node each.
Node* Compiler::DictLitNode(const std::vector<std::pair<String*, Value>>& entries,
                            const std::vector<Node*>& nodes) {
  Node* n = NewNode(NodeKind::kDictLit, static_cast<uint32_t>(nodes.size()));
  Value keys = Value::EmptyList();
  for (size_t i = entries.size(); i-- > 0;) {
    keys = S_.heap.Cons(Value::Object(entries[i].first), keys);
  }
  n->value = keys;
  for (size_t i = 0; i < nodes.size(); ++i) n->kids[i] = nodes[i];
  return n;
}

// --- quoting ----------------------------------------------------------------------

Node* Compiler::CompileQuote(Value args) {
  if (Length(args) != 1) Fail("quote: expected one form");
  return Const(Car(args));
}

// `x at quasiquote depth `depth`: constant parts stay constants; lists with
// unquotes become calls of %qq-list / %qq-concat.
Node* Compiler::CompileQuasi(Value x, int depth, Scope* scope) {
  const auto& sym = S_.sym;
  if (IsDict(x)) {
    auto entries = DictEntriesSorted(x);
    bool all_const = true;
    std::vector<Node*> nodes;
    for (auto& [k, v] : entries) {
      Node* n = CompileQuasi(v, depth, scope);
      if (n->kind != NodeKind::kConst) all_const = false;
      nodes.push_back(n);
    }
    if (all_const) return Const(x);
    return DictLitNode(entries, nodes);
  }
  if (!IsPair(x)) return Const(x);
  Value head = Car(x);
  if (head == Value::Object(sym.unquote)) {
    if (Length(x) != 2) Fail("unquote: expected one form");
    if (depth == 0) return Compile(Nth(x, 1), scope, false);
    Node* inner = CompileQuasi(Nth(x, 1), depth - 1, scope);
    if (inner->kind == NodeKind::kConst) return Const(x);
    Node* call = NewNode(NodeKind::kCall, 3);
    call->kids[0] = Const(NativeValue("%qq-list"));
    call->kids[1] = Const(head);
    call->kids[2] = inner;
    return call;
  }
  int inner_depth = head == Value::Object(sym.quasiquote) ? depth + 1 : depth;
  // Each element becomes a segment: (list elem) or, for ,@y, y itself.
  std::vector<Node*> segments;
  std::vector<Node*> run;  // consecutive single elements, gathered into one list call
  bool all_const = true;
  auto flush = [&]() {
    if (run.empty()) return;
    Node* call = NewNode(NodeKind::kCall, static_cast<uint32_t>(run.size() + 1));
    call->kids[0] = Const(NativeValue("%qq-list"));
    for (size_t i = 0; i < run.size(); ++i) call->kids[i + 1] = run[i];
    segments.push_back(call);
    run.clear();
  };
  for (Value p = x; IsPair(p); p = Cdr(p)) {
    Value e = Car(p);
    if (depth == 0 && IsPair(e) && Car(e) == Value::Object(sym.unquote_splicing)) {
      if (Length(e) != 2) Fail("unquote-splicing: expected one form");
      flush();
      segments.push_back(Compile(Nth(e, 1), scope, false));
      all_const = false;
      continue;
    }
    Node* n = CompileQuasi(e, p == x ? depth : inner_depth, scope);
    if (n->kind != NodeKind::kConst) all_const = false;
    run.push_back(n);
  }
  if (all_const) return Const(x);
  flush();
  if (segments.size() == 1) return segments[0];
  Node* call = NewNode(NodeKind::kCall, static_cast<uint32_t>(segments.size() + 1));
  call->kids[0] = Const(NativeValue("%qq-concat"));
  for (size_t i = 0; i < segments.size(); ++i) call->kids[i + 1] = segments[i];
  return call;
}

// --- control ----------------------------------------------------------------------

Node* Compiler::CompileIf(Value args, Scope* scope, bool tail) {
  size_t n = Length(args);
  if (n < 2 || n > 3) Fail("if: expected (if test then [else])");
  Node* node = NewNode(NodeKind::kIf);
  node->a = CompileAt(NthCell(args, 0), scope, false);
  node->b = CompileAt(NthCell(args, 1), scope, tail);
  node->c = n == 3 ? CompileAt(NthCell(args, 2), scope, tail) : Const(Value::Nil());
  return node;
}

Node* Compiler::CompileWhen(Value args, Scope* scope, bool tail, bool negate) {
  if (!IsPair(args)) Fail(negate ? "unless: expected a test" : "when: expected a test");
  Node* node = NewNode(NodeKind::kIf);
  node->a = Compile(Car(args), scope, false);
  Node* body = CompileSeq(Cdr(args), scope, tail);
  Node* nil = Const(Value::Nil());
  node->b = negate ? nil : body;
  node->c = negate ? body : nil;
  return node;
}

Node* Compiler::CompileCond(Value clauses, Scope* scope, bool tail, Node* fallback) {
  if (!IsPair(clauses)) return fallback ? fallback : Const(Value::Nil());
  Value clause = Car(clauses);
  if (!IsPair(clause)) Fail("cond: each clause must be a list (test body...)");
  Value test = Car(clause);
  bool is_else = test == Value::Object(S_.sym.else_) || test == Value::Object(S_.kw_else);
  if (is_else) {
    if (IsPair(Cdr(clauses))) Fail("cond: else must be the last clause");
    return CompileSeq(Cdr(clause), scope, tail);
  }
  if (!IsPair(Cdr(clause))) {
    // (cond (test) ...) yields the test's value when it is truthy.
    Node* n = NewNode(NodeKind::kOr, 2);
    n->kids[0] = Compile(test, scope, false);
    n->kids[1] = CompileCond(Cdr(clauses), scope, tail, fallback);
    return n;
  }
  Node* node = NewNode(NodeKind::kIf);
  node->a = Compile(test, scope, false);
  node->b = CompileSeq(Cdr(clause), scope, tail);
  node->c = CompileCond(Cdr(clauses), scope, tail, fallback);
  return node;
}

Node* Compiler::CompileCase(Value args, Scope* scope, bool tail) {
  if (!IsPair(args)) Fail("case: expected a key expression");
  size_t nclauses = Length(Cdr(args));
  Node* node = NewNode(NodeKind::kCase, static_cast<uint32_t>(nclauses));
  node->a = Compile(Car(args), scope, false);
  std::vector<Value> keys;
  size_t i = 0;
  for (Value p = Cdr(args); IsPair(p); p = Cdr(p), ++i) {
    Value clause = Car(p);
    if (!IsPair(clause)) Fail("case: each clause must be a list (keys body...)");
    Value k = Car(clause);
    bool is_else = k == Value::Object(S_.sym.else_) || k == Value::Object(S_.kw_else);
    if (is_else) {
      if (IsPair(Cdr(p))) Fail("case: else must be the last clause");
      keys.push_back(Value::Object(S_.kw_else));
    } else {
      keys.push_back(IsList(k) ? k : S_.heap.Cons(k, Value::EmptyList()));
    }
    node->kids[i] = CompileSeq(Cdr(clause), scope, tail);
  }
  node->value = S_.heap.ListFrom(keys.data(), keys.size());
  return node;
}

Node* Compiler::CompileAndOr(NodeKind kind, Value args, Scope* scope, bool tail) {
  size_t n = Length(args);
  if (n == 0) return Const(kind == NodeKind::kAnd ? Value::True() : Value::Nil());
  if (n == 1) return Compile(Car(args), scope, tail);
  Node* node = NewNode(kind, static_cast<uint32_t>(n));
  size_t i = 0;
  for (Value p = args; IsPair(p); p = Cdr(p), ++i) {
    node->kids[i] = Compile(Car(p), scope, tail && i + 1 == n);
  }
  return node;
}

Node* Compiler::CompileSeq(Value forms, Scope* scope, bool tail) {
  std::vector<Node*> kids;
  size_t n = Length(forms);
  size_t i = 0;
  for (Value p = forms; IsPair(p); p = Cdr(p), ++i) {
    kids.push_back(CompileAt(p, scope, tail && i + 1 == n));
  }
  return Seq(kids);
}

// --- definitions ------------------------------------------------------------------

Node* Compiler::CompileDefine(Value args, Scope* scope) {
  if (!IsPair(args)) Fail("define: expected a name");
  Value target = Car(args);
  Symbol* name;
  Node* value;
  if (IsPair(target)) {
    // (define (name . params) body...)
    if (!IsSymbol(Car(target))) Fail("define: the function name must be a symbol");
    name = AsSymbol(Car(target));
    value = CompileLambda(Cdr(target), Cdr(args), scope, Car(target));
  } else if (IsSymbol(target)) {
    name = AsSymbol(target);
    size_t n = Length(args);
    if (n > 2) Fail("define: expected (define name value)");
    value = CompileNamed(n == 2 ? Nth(args, 1) : Value::Nil(), scope, target);
  } else {
    Fail("define: expected a name, got " + Brief(S_, target));
  }
  if (IsToplevel(scope)) {
    Node* n = NewNode(NodeKind::kDefGlobal);
    n->value = Value::Object(name);
    n->a = value;
    return n;
  }
  uint32_t slot;
  if (!LookupHere(scope, name, &slot)) {
    Fail("define: " + Brief(S_, Value::Object(name)) +
         " must be defined at top level or at the start of a body");
  }
  Node* n = NewNode(NodeKind::kSetLocal);
  n->depth = 0;
  n->index = slot;
  n->value = Value::Object(name);
  n->a = value;
  n->flags |= kDefineNode;
  return n;
}

Node* Compiler::CompileSet(Value args, Scope* scope) {
  if (Length(args) != 2 || !IsSymbol(Car(args))) Fail("set!: expected (set! name value)");
  Symbol* name = AsSymbol(Car(args));
  Node* value = CompileAt(NthCell(args, 1), scope, false);
  Node* n = VariableNode(name, scope, NodeKind::kSetLocal, NodeKind::kSetGlobal);
  n->a = value;
  return n;
}

// Internal defines of a body (also inside a top-level `begin` of the body)
// get their slots before the body is compiled, so they may refer to each
// other.
void Compiler::PrescanDefines(Value body, Scope** scope) {
  for (Value p = body; IsPair(p); p = Cdr(p)) {
    Value f = Car(p);
    if (!IsPair(f)) continue;
    Value h = Car(f);
    if (h == Value::Object(S_.sym.begin) || h == Value::Object(S_.sym.do_)) {
      PrescanDefines(Cdr(f), scope);
      continue;
    }
    if (h != Value::Object(S_.sym.define) || !IsPair(Cdr(f))) continue;
    Value target = Car(Cdr(f));
    if (IsPair(target)) target = Car(target);
    if (!IsSymbol(target)) continue;
    uint32_t slot;
    if (LookupHere(*scope, AsSymbol(target), &slot)) continue;
    *scope = Bind(*scope, AsSymbol(target), AllocSlot(*scope));
  }
}

Node* Compiler::CompileBody(Value body, Scope* scope, bool tail) {
  if (!IsToplevel(scope)) PrescanDefines(body, &scope);
  return CompileSeq(body, scope, tail);
}

// The value of a binding: a `(fn ...)` form is compiled knowing the name it
// is bound to, so errors and printing can name the function.
Node* Compiler::CompileNamed(Value expr, Scope* scope, Value name) {
  bool is_fn =
      IsPair(expr) &&
      (Car(expr) == Value::Object(S_.sym.fn) || Car(expr) == Value::Object(S_.sym.lambda)) &&
      IsPair(Cdr(expr));
  if (is_fn) return CompileLambda(Car(Cdr(expr)), Cdr(Cdr(expr)), scope, name);
  return Compile(expr, scope, false);
}

Node* Compiler::CompileLambda(Value params, Value body, Scope* scope, Value name) {
  Proto* proto = S_.heap.New<Proto>(ObjType::kProto);
  proto->name = name;
  proto->doc = Value::Nil();
  proto->file = file_;
  proto->line = line_;
  Scope* inner = Boundary(proto, scope);
  std::vector<Symbol*> names;
  bool rest = false;
  if (IsSymbol(params)) {
    // (fn args body...): every argument in one list.
    rest = true;
    names.push_back(AsSymbol(params));
  } else if (IsList(params)) {
    for (Value p = params; IsPair(p); p = Cdr(p)) {
      Value s = Car(p);
      if (!IsSymbol(s)) Fail("fn: parameters must be symbols, got " + Brief(S_, s));
      std::string_view nm = AsSymbol(s)->name->View();
      if (nm == "&rest" || nm == "&" || nm == ".") {
        if (!IsPair(Cdr(p)) || !IsSymbol(Car(Cdr(p))) || IsPair(Cdr(Cdr(p)))) {
          Fail("fn: " + std::string(nm) + " must be followed by exactly one name");
        }
        rest = true;
        names.push_back(AsSymbol(Car(Cdr(p))));
        break;
      }
      names.push_back(AsSymbol(s));
    }
  } else {
    Fail("fn: parameters must be a list, got " + Brief(S_, params));
  }
  proto->nparams = static_cast<uint32_t>(names.size() - (rest ? 1 : 0));
  proto->has_rest = rest;
  proto->frame_size = static_cast<uint32_t>(names.size());
  for (uint32_t i = 0; i < names.size(); ++i) inner = Bind(inner, names[i], i);
  if (IsPair(body) && IsString(Car(body)) && IsPair(Cdr(body))) {
    proto->doc = Car(body);
    body = Cdr(body);
  }
  int saved_depth = depth_;
  Proto* saved_proto = proto_;
  proto_ = proto;
  proto->body = CompileBody(body, inner, true);
  proto_ = saved_proto;
  depth_ = saved_depth;
  if (proto->nparams >= 1 && ConsumesAcc(proto->body, true, false)) {
    ConsumesAcc(proto->body, true, true);
    proto->consumes_acc = true;
  }
  Node* n = NewNode(NodeKind::kLambda);
  n->extra = proto;
  return n;
}

Node* Compiler::CompileLet(Value args, Scope* scope, bool tail, bool rec) {
  const char* what = rec ? "letrec" : "let";
  if (!IsPair(args) || !IsList(Car(args))) {
    Fail(std::string(what) + ": expected a list of (name value) bindings");
  }
  std::vector<Node*> kids;
  std::vector<std::pair<Symbol*, Value>> bindings;
  for (Value p = Car(args); IsPair(p); p = Cdr(p)) {
    Value b = Car(p);
    if (!IsPair(b) || !IsSymbol(Car(b)) || Length(b) > 2) {
      Fail(std::string(what) + ": each binding must be (name value), got " + Brief(S_, b));
    }
    bindings.emplace_back(AsSymbol(Car(b)), Nth(b, 1));
  }
  std::vector<uint32_t> slots;
  if (rec) {
    for (auto& [name, init] : bindings) {
      uint32_t slot = AllocSlot(scope);
      slots.push_back(slot);
      scope = Bind(scope, name, slot);
    }
  }
  for (size_t i = 0; i < bindings.size(); ++i) {
    auto& [name, init] = bindings[i];
    Node* value = CompileNamed(init, scope, Value::Object(name));
    uint32_t slot;
    if (rec) {
      slot = slots[i];
    } else {
      slot = AllocSlot(scope);
      scope = Bind(scope, name, slot);
    }
    Node* set = NewNode(NodeKind::kSetLocal);
    set->index = slot;
    set->value = Value::Object(name);
    set->a = value;
    set->flags |= kDefineNode;
    kids.push_back(set);
  }
  kids.push_back(CompileBody(Cdr(args), scope, tail));
  return Seq(kids);
}

// (let loop ((i 0)) body...) is ((letrec ((loop (fn (i) body...))) loop) 0)
Node* Compiler::CompileNamedLet(Value args, Scope* scope, bool tail) {
  Symbol* name = AsSymbol(Car(args));
  Value rest = Cdr(args);
  if (!IsPair(rest) || !IsList(Car(rest))) Fail("let: expected bindings after the loop name");
  Value params = Value::EmptyList();
  std::vector<Value> inits;
  std::vector<Value> names;
  for (Value p = Car(rest); IsPair(p); p = Cdr(p)) {
    Value b = Car(p);
    if (!IsPair(b) || !IsSymbol(Car(b)) || Length(b) > 2) {
      Fail("let: each binding must be (name value), got " + Brief(S_, b));
    }
    names.push_back(Car(b));
    inits.push_back(Nth(b, 1));
  }
  params = S_.heap.ListFrom(names.data(), names.size());
  std::vector<Node*> init_nodes;
  for (Value init : inits) init_nodes.push_back(Compile(init, scope, false));
  uint32_t slot = AllocSlot(scope);
  Scope* inner = Bind(scope, name, slot);
  Node* set = NewNode(NodeKind::kSetLocal);
  set->index = slot;
  set->value = Value::Object(name);
  set->a = CompileLambda(params, Cdr(rest), inner, Value::Object(name));
  set->flags |= kDefineNode;
  Node* call = NewNode(NodeKind::kCall, static_cast<uint32_t>(init_nodes.size() + 1));
  call->kids[0] = CompileSymbol(name, inner);
  for (size_t i = 0; i < init_nodes.size(); ++i) call->kids[i + 1] = init_nodes[i];
  if (tail) call->flags |= kTailCall;
  std::vector<Node*> kids{set, call};
  return Seq(kids);
}

Node* Compiler::CompileDefmacro(Value args, Scope* scope) {
  if (Length(args) < 2 || !IsSymbol(Car(args))) {
    Fail("defmacro: expected (defmacro name (params) body...)");
  }
  Node* n = NewNode(NodeKind::kDefMacro);
  n->value = Car(args);
  n->a = CompileLambda(Nth(args, 1), Cdr(Cdr(args)), scope, Car(args));
  return n;
}

// (guard (err clause...) body...)
Node* Compiler::CompileGuard(Value args, Scope* scope, bool tail) {
  if (!IsPair(args) || !IsPair(Car(args)) || !IsSymbol(Car(Car(args)))) {
    Fail("guard: expected (guard (name clause...) body...)");
  }
  Symbol* var = AsSymbol(Car(Car(args)));
  Value clauses = Cdr(Car(args));
  Node* node = NewNode(NodeKind::kGuard);
  node->a = CompileSeq(Cdr(args), scope, false);
  uint32_t slot = AllocSlot(scope);
  Scope* hscope = Bind(scope, var, slot);
  Node* reraise = NewNode(NodeKind::kReraise);
  reraise->index = slot;
  node->b = CompileCond(clauses, hscope, tail, reraise);
  node->index = slot;
  return node;
}

}  // namespace

Node* CompileToplevel(State& S, Value form, Value file, Proto** toplevel_proto, uint32_t line,
                      uint32_t col) {
  Proto* proto = S.heap.New<Proto>(ObjType::kProto);
  proto->name = Value::Nil();
  proto->doc = Value::Nil();
  proto->file = file;
  proto->line = line;
  proto->flags = kProtoToplevel;
  *toplevel_proto = proto;
  Compiler c(S, file, proto);
  c.SetPos(line, col);
  Scope* scope = c.Boundary(proto, nullptr);
  Node* n = c.Compile(form, scope, true);
  proto->body = n;
  return n;
}

Node* CompileInScope(State& S, Value form, Scope* scope, Value file, uint32_t line, uint32_t col,
                     bool tail, uint32_t macro_depth) {
  Scope* b = scope;
  while (b != nullptr && b->name != nullptr) b = b->next;
  Compiler c(S, file, b != nullptr ? b->proto : nullptr);
  c.macro_depth_ = macro_depth;
  c.SetPos(line, col);
  c.expansion_file_ = IsString(file) ? S.FileId(StringView(file)) : 0xFFFF;
  return c.Compile(form, scope, tail);
}

}  // namespace sx::interp
