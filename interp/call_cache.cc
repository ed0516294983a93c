// call_cache.cc — how each call node runs, cached on the node.
//
// Revalidate chooses a call's CallMode (node.h) from the bindings its
// operator and operands have now, and for a simple call the function that
// evaluates it (Node::eval). The choice holds while the global epoch stays
// where it was; defining or setting any global moves the epoch on, and the
// next run of the call revalidates it. The machine (machine.cc) reads the
// mode; this file makes it, and holds the evaluators of simple calls.
#include <array>
#include <utility>

#include "interp/dict.h"
#include "interp/machine.h"
#include "interp/machine_internal.h"
#include "interp/state.h"

namespace sx::interp {

namespace {

// --- evaluators of simple calls ---------------------------------------------
//
// A simple call is evaluated by a function chosen for it (Node::eval): the
// general one walks the operands and calls the native; a FastOp native on two
// operands gets one specialised for the op and for the shape of each operand
// (a parameter of the current frame, a small-integer constant whose tag need
// not be checked, another constant, or anything else), so that
// `(+ i 1)` is a few loads, an add and a range check.

enum class Shape { kAny, kParam0, kConst, kSmallConst };  // kSmallConst last: see kShapes

Shape ShapeOf(Node* k) {
  if (k->kind == NodeKind::kParam && k->depth == 0) return Shape::kParam0;
  if (k->kind == NodeKind::kConst)
    return k->value.IsSmallInt() ? Shape::kSmallConst : Shape::kConst;
  return Shape::kAny;
}

template <Shape s>
[[gnu::always_inline]] inline Value Fetch(MachineLoop& L, Node* k, Env* env) {
  if constexpr (s == Shape::kParam0) {
    return env->slots[k->index];
  } else if constexpr (s == Shape::kConst || s == Shape::kSmallConst) {
    return k->value;
  } else {
    return L.Operand(k, env);
  }
}

template <uint16_t op, Shape sa, Shape sb>
Value ArithFn(MachineLoop& L, Node* n, Env* env) {
  Value x = Fetch<sa>(L, n->kids[1], env);
  Value y = Fetch<sb>(L, n->kids[2], env);
  if ((sa == Shape::kSmallConst || x.IsSmallInt()) &&
      (sb == Shape::kSmallConst || y.IsSmallInt())) {
    int64_t a = x.AsSmallInt(), b = y.AsSmallInt();
    int64_t r;
    if constexpr (op == kFastLt) return Value::Bool(a < b);
    if constexpr (op == kFastGt) return Value::Bool(a > b);
    if constexpr (op == kFastLe) return Value::Bool(a <= b);
    if constexpr (op == kFastGe) return Value::Bool(a >= b);
    if constexpr (op == kFastEq) return Value::Bool(a == b);
    if constexpr (op == kFastAdd) r = a + b;  // both fit in 48 bits: no overflow
    if constexpr (op == kFastSub) r = a - b;
    if constexpr (op == kFastMul) {
      if (__builtin_mul_overflow(a, b, &r)) return L.ArithSlow(n, x, y);
    }
    if (Value::FitsSmall(r)) return Value::SmallInt(r);
  }
  return L.ArithSlow(n, x, y);
}

Value SimpleCallFn(MachineLoop& L, Node* n, Env* env) { return L.Simple(n, env); }

// (assoc acc k v ...) in a reduce callback that uses its accumulator for
// nothing else (kAccConsumer). When this frame was handed the accumulator
// (kEnvOwnsAcc) and the result goes straight back to reduce, the dict is
// updated in place; otherwise this is the ordinary call.
Value AccAssocFn(MachineLoop& L, Node* n, Env* env) {
  if (!(env->flags & kEnvOwnsAcc) || L.frames.empty() ||
      L.frames.back().kind != FrameKind::kReduce) {
    return L.Simple(n, env);
  }
  Native* nat = AsNative(AsSymbol(n->kids[0]->value)->global);
  size_t base = L.vals.size();
  for (uint32_t i = 1; i < n->nkids; ++i) {
    Value v = L.Operand(n->kids[i], env);
    L.vals.push_back(v);
  }
  L.cur_call = n;
  Value r = AssocIntoAccumulator(
      Args{L.S, nat->spec->name, L.vals.data() + base, static_cast<int>(n->nkids - 1), nat->user});
  L.vals.resize(base);
  return r;
}

// Every specialised evaluator, indexed by op (from kFastAdd) and the shapes
// of the two operands.
constexpr size_t kShapes = static_cast<size_t>(Shape::kSmallConst) + 1;
constexpr size_t kFastOps = kFastEq - kFastAdd + 1;

template <size_t... I>
constexpr std::array<SimpleFn, sizeof...(I)> ArithFns(std::index_sequence<I...>) {
  return {&ArithFn<static_cast<uint16_t>(kFastAdd + I / (kShapes * kShapes)),
                   static_cast<Shape>(I / kShapes % kShapes), static_cast<Shape>(I % kShapes)>...};
}
constexpr auto kArithFns = ArithFns(std::make_index_sequence<kFastOps * kShapes * kShapes>());

// The evaluator of a call that is simple at the current epoch.
SimpleFn ChooseSimpleFn(Node* n) {
  Native* nat = AsNative(AsSymbol(n->kids[0]->value)->global);
  if ((n->flags & kAccConsumer) && IsAssocNative(nat)) return &AccAssocFn;
  uint16_t op = nat->flags;
  if (n->nkids != 3 || op < kFastAdd || op > kFastEq) return &SimpleCallFn;
  size_t sa = static_cast<size_t>(ShapeOf(n->kids[1]));
  size_t sb = static_cast<size_t>(ShapeOf(n->kids[2]));
  return kArithFns[((op - kFastAdd) * kShapes + sa) * kShapes + sb];
}

// Recomputes how a call runs (its CallMode, evaluator and callee) for the
// current global epoch. Any global definition moves the epoch on, so the

}  // namespace

void Revalidate(State& S, Node* n) {
  bool args_simple = true;  // the operator and every operand evaluate without frames
  for (uint32_t i = 0; i < n->nkids && args_simple; ++i) {
    Node* k = n->kids[i];
    args_simple = (k->flags & kSimpleNode) && CanSimple(S, k);
  }
  Node* head = n->kids[0];
  Value g = head->kind == NodeKind::kGlobal ? AsSymbol(head->value)->global : Value::Undefined();
  bool plain_native = IsType(g, ObjType::kNative) && OpOf(AsNative(g)) == MachineOp::kNone;
  uint32_t argc = n->nkids - 1;
  CallMode mode = CallMode::kGeneral;
  n->callee = nullptr;
  // kSimpleNode implies the operator is a global.
  if (args_simple && (n->flags & kSimpleNode) && plain_native) {
    mode = CallMode::kSimple;
  } else if (args_simple) {
    mode = CallMode::kArgsSimple;
    if (IsType(g, ObjType::kClosure)) {
      auto* c = static_cast<Closure*>(g.AsObj());
      if (!c->proto->has_rest && c->proto->nparams == argc && argc <= kDirectArgs) {
        mode = CallMode::kDirect;
        n->callee = c;
        if (!(n->flags & kLibNode) && (c->proto->body->flags & kLibNode)) {
          mode = CallMode::kDirectLib;
        }
      }
    }
  } else if (argc == 2 && plain_native && AsNative(g)->flags != kFastNone) {
    mode = CallMode::kArith2;
  }
  n->mode = static_cast<uint8_t>(mode);
  n->eval = mode == CallMode::kSimple ? ChooseSimpleFn(n) : nullptr;
  n->epoch = S.global_epoch;
}

Value MachineLoop::ArithSlow(Node* n, Value x, Value y) {
  Native* nat = AsNative(AsSymbol(n->kids[0]->value)->global);
  Value argv[2] = {x, y};
  cur_call = n;
  return CallNative(S, nat, argv, 2);
}

// A call of a plain native on simple operands (the caller checked CanSimple).
Value MachineLoop::Simple(Node* n, Env* env) {
  Native* nat = AsNative(AsSymbol(n->kids[0]->value)->global);
  uint32_t argc = n->nkids - 1;
  if (argc == 2) {
    Value argv[2] = {Operand(n->kids[1], env), Operand(n->kids[2], env)};
    Value r;
    if (nat->flags != kFastNone && FastArith(nat->flags, argv[0], argv[1], &r)) return r;
    cur_call = n;
    return CallNative(S, nat, argv, 2);
  }
  size_t base = vals.size();
  for (uint32_t i = 1; i < n->nkids; ++i) {
    Value v = Operand(n->kids[i], env);
    vals.push_back(v);
  }
  cur_call = n;
  Value r = CallNative(S, nat, vals.data() + base, argc);
  vals.resize(base);
  return r;
}

}  // namespace sx::interp
