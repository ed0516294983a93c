// node.h — compiled code: the nodes the compiler makes and the machine runs,
// functions (Proto, Closure), activation frames (Env), macros, and the
// compile-time scopes a lazily expanded macro call keeps.
//
// Source forms are compiled (compiler.cc) into a tree of Nodes with lexical
// addressing: a local variable is (depth, slot) in a chain of Env frames, one
// frame per function activation (`let` bindings get slots in the enclosing
// function's frame). A call node also caches how the machine runs it (its
// CallMode, call_cache.cc).
#pragma once

#include <cstdint>

#include "interp/heap.h"
#include "interp/value.h"

namespace sx::interp {

class State;
class MachineLoop;
struct Proto;
struct Scope;

enum class NodeKind : uint8_t {
  kConst,      // value
  kLocal,      // depth, index; value = symbol (for messages)
  kParam,      // as kLocal, for a parameter's slot: always bound, never out of range
  kGlobal,     // value = symbol
  kSetLocal,   // depth, index, a = expr; flags kDefineNode when it is a definition
  kSetGlobal,  // value = symbol, a = expr
  kDefGlobal,  // value = symbol, a = expr
  kDefMacro,   // value = symbol, a = lambda node
  kIf,         // a, b, c
  kSeq,        // kids
  kAnd,        // kids
  kOr,         // kids
  kLambda,     // proto
  kCall,       // kids[0] operator, kids[1..] operands; kMaybeMacro: value = form, extra = Scope*,
               // index = macro depth
  kDictLit,    // value = list of key strings, kids = value expressions
  kGuard,      // a = body, b = handler, index = slot of the error variable
  kReraise,    // depth 0, index = slot holding the error to raise again
  kPerform,    // a = request
  kMacroCall,  // value = original form, extra = Scope*, a = cached expansion,
               // index = macro depth (0 in source; see Limits::max_macro_depth)
  kCase,       // a = key, value = list of key lists (or :else), kids = bodies
  kLoad,       // a = path expression
  kImport,     // value = module name (string)
};

enum NodeFlags : uint16_t {
  kSimpleNode = 1,  // evaluable without frames when every operator is a plain native
  kDefineNode = 2,
  // A call whose head was an unbound global when compiled: if the name is a
  // macro by the time the call first runs, it becomes a kMacroCall.
  kMaybeMacro = 4,
  // A call (or macro call) in tail position: nothing of the caller's
  // activation is needed after it.
  kTailCall = 8,
  // A tail call (assoc acc k v ...) of a function that uses its first
  // parameter, the accumulator, for nothing else (Proto::consumes_acc).
  kAccConsumer = 16,
  // Code read from a library module (the built-in stdlib): backtraces
  // headline the innermost place outside it.
  kLibNode = 32,
};
// Most arguments a call passes straight into a closure's frame.
inline constexpr uint32_t kDirectArgs = 8;

// How the machine evaluates a call, decided by Revalidate and valid while
// Node::epoch equals the global epoch (defining any global moves the epoch
// on, and the mode is recomputed).
enum class CallMode : uint8_t {
  kGeneral = 0,  // operands one by one, with a frame for those that need one
  kSimple,       // Node::eval computes it: kSimpleNode, every operator a plain native
  kDirect,       // a global closure (Node::callee) of fixed arity; simple operands
  // As kDirect, for a call from outside the library of a library closure:
  // the machine notes it (Machine::NoteLibEntry), so an error deep in the
  // library can still name the user's call when it was a tail call.
  kDirectLib,
  kArgsSimple,  // every operand simple, the operator anything
  kArith2,      // (op a b), op a global FastOp native, an operand not simple
};

// How a simple call evaluates (MachineLoop::Operand), chosen by Revalidate.
struct Node;
struct Env;
using SimpleFn = Value (*)(MachineLoop& L, Node* n, Env* env);

struct Node : Obj {
  NodeKind kind;
  uint16_t depth;
  uint32_t index;
  uint32_t line;
  uint32_t col;
  Value value;
  Value file;  // string or nil
  Obj* extra;  // kLambda: Proto; kMacroCall: Scope
  Node* a;
  Node* b;
  Node* c;
  // kCall, valid while `epoch` equals the global epoch (see Revalidate):
  uint32_t epoch;  // when the fields below were computed
  uint8_t mode;    // CallMode
  SimpleFn eval;   // CallMode::kSimple: the evaluator
  Obj* callee;     // CallMode::kDirect: the Closure the operator is bound to
  Proto* fn;       // the function (or top-level form) this code is part of: backtraces name it
  uint32_t nkids;
  Node* kids[1];  // nkids entries
};

// Proto flags (Obj::flags).
enum ProtoFlags : uint16_t {
  kProtoToplevel = 1,  // the code of one top-level form, not a function
};

struct Proto : Obj {
  uint32_t nparams;     // required + optional positional parameters
  uint32_t frame_size;  // slots: parameters, rest, let bindings, internal defines
  bool has_rest;
  // The first parameter is only returned or passed to `assoc` as the dict,
  // in tail position: reduce may hand it a dict to update in place.
  bool consumes_acc;
  Node* body;
  Value name;  // symbol or nil
  Value doc;   // string or nil
  Value file;
  uint32_t line;
};

struct Env : Obj {
  Env* parent;
  Value* slots;  // inline_slots, or after growth (kEnvGrown) the slots of another
                 // Env held in inline_slots[0] (SetSlot)
  uint32_t size;
  Value inline_slots[1];
};

struct Closure : Obj {
  Proto* proto;
  Env* env;
};

struct Macro : Obj {
  Value fn;  // a closure
};

// Compile-time scope: an immutable chain, so a macro call can keep the scope
// it appeared in and compile its expansion later. A boundary link (name ==
// nullptr) marks the start of a function's frame.
struct Scope : Obj {
  Scope* next;
  Symbol* name;
  uint32_t slot;
  Proto* proto;  // boundary links: the function whose frame this is
};

// Compiles one top-level form; line and col are where it was read (an atom
// carries no place of its own). Raises an SX error (ThrowError) on a syntax
// error in a special form.
Node* CompileToplevel(State& S, Value form, Value file, Proto** toplevel_proto, uint32_t line = 0,
                      uint32_t col = 0);
// Compiles a macro expansion in the scope the macro call appeared in. The
// macro calls in it get macro_depth (the expanded call's depth + 1).
Node* CompileInScope(State& S, Value form, Scope* scope, Value file, uint32_t line, uint32_t col,
                     bool tail, uint32_t macro_depth);
// Where a form was read, as StampPositions (load.h) recorded it in its cell.
inline uint32_t PosLine(const Obj* pair) { return pair->aux >> 12; }
inline uint32_t PosCol(const Obj* pair) { return pair->aux & 0xFFF; }

}  // namespace sx::interp
